// A config file's problems, each at the file, line and column it is about. Apart from the loader
// (load.ts) so that a process that gets them from elsewhere (the gateway's config thread) can
// rebuild the error without loading the YAML parser or the schemas.
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "ConfigError";
  }
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.col}: ${i.message}`;
}
