// Prints a password_hash for mqtt.broker.users: reads the password from stdin (one line), so it stays
// out of the shell history and the process list.
//   node dist/protocols/mqtt/hash-password.js < password.txt
//   (or run it and type the password, then Enter)
import { createInterface } from "node:readline";
import { hashPassword } from "./password.js";

const rl = createInterface({ input: process.stdin, terminal: false });
const line = await new Promise<string | undefined>((resolve) => {
  rl.once("line", resolve);
  rl.once("close", () => resolve(undefined));
});
rl.close();
if (line === undefined || line === "") {
  console.error("no password on stdin");
  process.exit(2);
}
console.log(await hashPassword(line));
