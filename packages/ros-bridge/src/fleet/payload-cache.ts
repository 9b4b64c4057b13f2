/**
 * Payloads by numeric id, up to a byte bound, with the oldest dropped first. The collector state
 * stages the payloads of the rows a transaction inserts, so they become visible only when it
 * commits and a rolled-back row never leaves a payload behind. The robot's outbound queue puts
 * its appended payloads in at once.
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

  /** Keeps a payload at once, dropping the oldest ones past the bound. A payload larger than the bound is not kept. */
  set(id: number, payload: Buffer): void {
    if (payload.length > this.maxBytes) return;
    this.entries.set(id, payload);
    this.bytes += payload.length;
    for (const [oldId, oldPayload] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldId);
      this.bytes -= oldPayload.length;
    }
  }

  /** Stages the payload of a row that the running transaction inserted. */
  stage(id: number, payload: Buffer): void {
    this.staged.push([id, payload]);
  }

  /** Keeps the staged payloads, dropping the oldest ones past the bound. */
  commitStaged(): void {
    for (const [id, payload] of this.staged) this.set(id, payload);
    this.staged = [];
  }

  /** Forgets the staged payloads of a transaction that rolled back. */
  dropStaged(): void {
    this.staged = [];
  }

  get(id: number): Buffer | undefined {
    return this.entries.get(id);
  }

  delete(id: number): void {
    const payload = this.entries.get(id);
    if (payload === undefined) return;
    this.entries.delete(id);
    this.bytes -= payload.length;
  }

  clear(): void {
    this.entries.clear();
    this.staged = [];
    this.bytes = 0;
  }
}
