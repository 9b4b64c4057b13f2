import { existsSync } from 'node:fs';
import type { CliCommand, CliResult, SnapshotManifest } from '@fieldloop/contracts';
import { DatasetStore } from './dataset-store.ts';
import { isSha256Hex } from './is-sha256-hex.ts';

function splitCounts(manifest: SnapshotManifest): string {
  const { train, val, test } = manifest.stats.perSplit;
  return `train ${train}, val ${val}, test ${test}`;
}

function listText(store: string, snapshots: SnapshotManifest[]): string {
  if (snapshots.length === 0) return `store ${store} has no snapshots yet; add one with fieldloop ingest or fieldloop collect`;
  const lines = [`store ${store}: ${snapshots.length} ${snapshots.length === 1 ? 'snapshot' : 'snapshots, oldest first'}`];
  for (const manifest of snapshots) {
    lines.push(
      `  v${manifest.version}  ${manifest.createdAt}  ${manifest.stats.samples} samples (${splitCounts(manifest)}), ` +
        `${manifest.added} new  ${manifest.note}`,
    );
  }
  return lines.join('\n');
}

function showText(manifest: SnapshotManifest): string {
  const counts = (title: string, values: Record<string, number>): string[] => {
    const entries = Object.entries(values);
    return entries.length === 0 ? [] : [`  ${title}: ${entries.map(([key, n]) => `${key} ${n}`).join(', ')}`];
  };
  const lines = [
    `snapshot v${manifest.version} (manifest ${manifest.manifestHash}, parent ${manifest.parentHash ?? 'none'})`,
    `  created ${manifest.createdAt}: ${manifest.note}`,
    `  ${manifest.stats.samples} samples (${splitCounts(manifest)}), ${manifest.added} added by this snapshot`,
    ...counts('per source', manifest.stats.perSource),
    ...counts('per tag', manifest.stats.perTag),
  ];
  for (const [head, values] of Object.entries(manifest.stats.perLabel)) {
    const distinct = Object.keys(values).length;
    const overflow = manifest.stats.perLabelOverflow?.[head] ?? 0;
    const labelled = Object.values(values).reduce((sum, n) => sum + n, 0) + overflow;
    const more = overflow > 0 ? ` and more past the counted ${distinct}` : '';
    lines.push(`  label ${head}: ${labelled} samples, ${distinct} distinct values${more}`);
  }
  return lines.join('\n');
}

/** `fieldloop snapshots`: lists the snapshots of a data set store, or shows one. */
export const snapshotsCommand: CliCommand = {
  name: 'snapshots',
  summary: 'list the snapshots of a data set store, or show one with its statistics',
  description:
    'Without --show, lists every snapshot of --store, oldest first: version, creation time, samples per split, ' +
    'how many samples it added and its note. With --show (a version, a manifest hash or latest), prints that snapshot with its ' +
    'manifest hash, parent, and counts per source, tag and label. Opens the store read-only.',
  arguments: '',
  options: [
    { flags: '--store <dir>', description: 'data set store directory', required: true },
    { flags: '--show <version>', description: 'snapshot to show: its version number, its manifest hash, or latest' },
  ],
  async run(_args, options): Promise<CliResult> {
    const dir = typeof options.store === 'string' ? options.store : null;
    if (dir === null) throw new Error('snapshots needs --store DIR');
    if (!existsSync(dir)) throw new Error(`--store ${dir} not found; pass the directory of a data set store`);
    const store = await DatasetStore.open(dir, { readOnly: true });
    try {
      const show = typeof options.show === 'string' ? options.show : null;
      if (show === null) {
        const snapshots = store.listSnapshots();
        return { exitCode: 0, summary: { store: dir, snapshots }, text: listText(dir, snapshots) };
      }
      const ref = show === 'latest' || isSha256Hex(show) ? show : Number(show);
      if (typeof ref === 'number' && !Number.isSafeInteger(ref)) {
        throw new Error(`invalid --show ${JSON.stringify(show)}: expected a snapshot version number, a manifest hash or latest`);
      }
      const manifest = store.getSnapshot(ref);
      return { exitCode: 0, summary: manifest, text: showText(manifest) };
    } finally {
      await store.close();
    }
  },
};
