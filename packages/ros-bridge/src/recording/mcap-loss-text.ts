const numberFormat = new Intl.NumberFormat('en-US');
const NANOSECONDS_PER_MILLISECOND = 1_000_000n;

/** Formats a byte offset or length with thousands separators, for example `922,060`. */
export function formatBytes(value: number): string {
  return numberFormat.format(value);
}

export function formatCount(value: number): string {
  return numberFormat.format(value);
}

/** Formats a log time as its nanoseconds and, where it is a valid date, as UTC ISO 8601. */
export function formatLogTime(nanoseconds: bigint): string {
  const date = new Date(Number(nanoseconds / NANOSECONDS_PER_MILLISECOND));
  return Number.isNaN(date.getTime()) ? `${nanoseconds}` : `${nanoseconds} (${date.toISOString()})`;
}
