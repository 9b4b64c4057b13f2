/**
 * Payloads of pending collector rows, by row id, up to a byte bound; the oldest go first. Rows
 * added inside a state transaction are staged and become visible only when it commits, so a
 * rolled-back row never leaves a payload behind.
 */
export class PayloadCache {
  private readonly maxBytes: number;
  private readonly entries = new Map<number, Buffer>();
  private bytes = 0;
  private staged: Array<[number, Buffer]> = [];

  constructor(maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`payload cache bytes must be a non-negative integer, got ${maxBytes}`);
    this.maxBytes = maxBytes;
  }

  /** Stages the payload of a row that the running transaction inserted. */
  stage(rowId: number, payload: Buffer): void {
    if (payload.length <= this.maxBytes) this.staged.push([rowId, payload]);
  }

  /** Keeps the staged payloads, dropping the oldest ones past the bound. */
  commitStaged(): void {
    for (const [rowId, payload] of this.staged) {
      this.entries.set(rowId, payload);
      this.bytes += payload.length;
    }
    this.staged = [];
    for (const [rowId, payload] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(rowId);
      this.bytes -= payload.length;
    }
  }

  /** Forgets the staged payloads of a transaction that rolled back. */
  dropStaged(): void {
    this.staged = [];
  }

  get(rowId: number): Buffer | undefined {
    return this.entries.get(rowId);
  }

  delete(rowId: number): void {
    const payload = this.entries.get(rowId);
    if (payload === undefined) return;
    this.entries.delete(rowId);
    this.bytes -= payload.length;
  }

  clear(): void {
    this.entries.clear();
    this.staged = [];
    this.bytes = 0;
  }
}
