/** The fields the tool reports of a failed command, besides its message. */
export interface ErrorFields {
  /** The error's class name, omitted for a plain `Error`. */
  type?: string;
  /** The machine-readable code that some errors carry, such as `not-found` or `ENOENT`. */
  code?: string;
  /** The message of the error that caused this one, where one is attached. */
  cause?: string;
}

/** Picks the fields worth logging from a thrown value: its class, its code and its cause. */
export function errorFields(error: unknown): ErrorFields {
  if (!(error instanceof Error)) return {};
  const fields: ErrorFields = {};
  if (error.name !== 'Error') fields.type = error.name;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') fields.code = String(code);
  if (error.cause instanceof Error && error.cause.message !== error.message) fields.cause = error.cause.message;
  else if (typeof error.cause === 'string') fields.cause = error.cause;
  return fields;
}
