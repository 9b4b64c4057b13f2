import { createHash } from 'node:crypto';
import type { Split } from '@fieldloop/contracts';

/** A snapshot member as the manifest hash covers it. */
export interface ManifestMember {
  id: string;
  split: Split;
}

/**
 * Computes a snapshot's manifest hash: the sha256 over one `<id>:<split>\n` line per member in
 * ascending id order, followed by `parent:<parent hash>\n`, with an empty parent hash for a
 * snapshot without parent. `members` must already be in ascending id order without repeats;
 * a member out of order raises a RangeError.
 */
export function computeManifestHash(members: Iterable<ManifestMember>, parentHash: string | null): string {
  const hash = createHash('sha256');
  let previous: string | null = null;
  for (const member of members) {
    if (previous !== null && member.id <= previous) {
      throw new RangeError(`Manifest members are not in ascending id order: ${member.id} follows ${previous}.`);
    }
    hash.update(`${member.id}:${member.split}\n`);
    previous = member.id;
  }
  hash.update(`parent:${parentHash ?? ''}\n`);
  return hash.digest('hex');
}

/** Merges two member sequences that are each in ascending id order and share no id. */
export function* mergeMembersById<T extends ManifestMember>(left: Iterable<T>, right: Iterable<T>): Generator<T> {
  const leftIterator = left[Symbol.iterator]();
  const rightIterator = right[Symbol.iterator]();
  let a = leftIterator.next();
  let b = rightIterator.next();
  while (!a.done && !b.done) {
    if (a.value.id <= b.value.id) {
      yield a.value;
      a = leftIterator.next();
    } else {
      yield b.value;
      b = rightIterator.next();
    }
  }
  for (; !a.done; a = leftIterator.next()) yield a.value;
  for (; !b.done; b = rightIterator.next()) yield b.value;
}
