/**
 * Serialises a JSON value with object keys sorted at every level and no whitespace, so that
 * signer and verifier hash the same bytes whatever order the fields were written in.
 * Throws for values JSON cannot represent (non-finite numbers, functions, bigints).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`canonical JSON cannot hold the number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  if (typeof value === 'object') {
    // Keys sort by UTF-16 code units (plain < and >), not by locale, so every platform agrees.
    const entries = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined);
    entries.sort(([a], [b]) => {
      if (a === b) return 0;
      return a < b ? -1 : 1;
    });
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  throw new Error(`canonical JSON cannot hold a value of type ${typeof value}`);
}
