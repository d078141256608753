// Runs dev-iggy on its own (tests spawn this): `node dist/gateway/iggy/dev-server/main.js [options]`.
import { devIggyCommand } from "../../cli/dev-iggy-command.js";

await devIggyCommand().parseAsync(process.argv);
