/**
 * An expected failure of the launcher (missing prerequisite, component not ready, port taken).
 * Its message is one line that names what is missing or failing and where to look; the CLI
 * prints it without a stack trace.
 */
export class StackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StackError';
  }
}
