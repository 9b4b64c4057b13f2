/** A parsed field path such as `pose.pose.position.x` or `position[2]`. */
export type FieldPath = ReadonlyArray<string | number>;

/** Parses a dotted field path with optional `[index]` parts. */
export function parseFieldPath(text: string): FieldPath {
  const parts: Array<string | number> = [];
  const pattern = /([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|(\.)/gy;
  let match: RegExpExecArray | null;
  let lastWasName = false;
  while ((match = pattern.exec(text)) !== null) {
    if (match[1] !== undefined) {
      parts.push(match[1]);
      lastWasName = true;
    } else if (match[2] !== undefined) {
      parts.push(Number(match[2]));
      lastWasName = true;
    } else if (!lastWasName) {
      break;
    } else {
      lastWasName = false;
    }
    if (pattern.lastIndex === text.length) break;
  }
  if (parts.length === 0 || pattern.lastIndex !== text.length || !lastWasName) {
    throw new Error(`invalid field path ${JSON.stringify(text)}; write it like header.stamp.sec or data[0]`);
  }
  return parts;
}

/** Reads a field path from a decoded message; returns undefined where the path does not exist. */
export function readField(message: unknown, path: FieldPath): unknown {
  let current: unknown = message;
  for (const part of path) {
    if (current === null || current === undefined) return undefined;
    if (typeof part === 'number') {
      if (!Array.isArray(current) && !ArrayBuffer.isView(current)) return undefined;
      current = (current as ArrayLike<unknown>)[part];
    } else {
      if (typeof current !== 'object') return undefined;
      current = (current as Record<string, unknown>)[part];
    }
  }
  return current;
}
