import type { Hub } from './context.js';

/**
 * The scheduled compaction (§3.5): every domain whose file is at least
 * `compactMinFragmentation` free pages, and has at least `compactMinBytes` to
 * give back, is compacted in turn; each pauses only its own writes. A domain
 * below either line is left alone, so a small or tidy file is never copied
 * for nothing.
 */
export async function compactFragmented(hub: Hub): Promise<void> {
  const { compactMinFragmentation, compactMinBytes } = hub.config;
  for (const d of hub.domains()) {
    const space = await d.space();
    if (space.fragmentation_ratio < compactMinFragmentation || space.reclaimable_bytes < compactMinBytes) continue;
    hub.log.info(
      { domain: d.name, fragmentation_ratio: space.fragmentation_ratio, reclaimable_bytes: space.reclaimable_bytes },
      'scheduled compaction',
    );
    await hub.maintenance(() => d.compact());
  }
}
