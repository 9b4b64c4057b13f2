import { createHash } from 'node:crypto';
import type { Split } from '@fieldloop/contracts';

/** A snapshot member as the manifest hash covers it. */
export interface ManifestMember {
  id: string;
  split: Split;
}

/**
 * Computes a snapshot's manifest hash: the sha256 over one `<id>:<split>\n` line per member that
 * the snapshot added, in ascending id order, followed by `parent:<parent hash>\n`, with an empty
 * parent hash for a snapshot without parent. The parent's hash covers the parent's members in the
 * same way, so the hash identifies every member while a commit hashes only what it adds. Stores of
 * index schema 1 and 2 hashed every member of a snapshot; their hashes stay as they were written.
 * `members` must already be in ascending id order without repeats; a member out of order raises
 * a RangeError.
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
