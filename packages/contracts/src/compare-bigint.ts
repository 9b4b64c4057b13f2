/** Orders two bigints for `Array.prototype.sort`, such as nanosecond log times. */
export function compareBigInt(a: bigint, b: bigint): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}
