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

/**
 * Says which part of a field path a decoded message lacks and which fields exist at that level,
 * or returns null when the whole path exists.
 */
export function describeMissingField(message: unknown, path: FieldPath): string | null {
  let current: unknown = message;
  const walked: string[] = [];
  for (const part of path) {
    const location = walked.length === 0 ? 'the message' : walked.join('.');
    if (typeof part === 'number') {
      if (!Array.isArray(current) && !ArrayBuffer.isView(current)) return `${location} is not an array, so it has no element [${part}]`;
      const length = (current as ArrayLike<unknown>).length;
      if (part >= length) return `${location} has ${length} elements, so it has no element [${part}]`;
      current = (current as ArrayLike<unknown>)[part];
      walked.push(`[${part}]`);
      continue;
    }
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, part)) {
      const fields = current !== null && typeof current === 'object' ? Object.keys(current) : [];
      const known = fields.length > 0 ? `its fields are ${fields.join(', ')}` : 'it has no fields';
      return `${location} has no field ${JSON.stringify(part)}; ${known}`;
    }
    current = (current as Record<string, unknown>)[part];
    walked.push(part);
  }
  return null;
}
