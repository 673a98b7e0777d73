/**
 * `npm run bench [-- NAME…]`: runs the benchmarks (all, or those named) and prints figures with
 * a baseline measured in the same run and the ratio. Machines are shared and noisy: read the
 * ratios, not single figures. `scale` (10,000,000 installations, several minutes and GBs of
 * Redis memory) runs only when named.
 */
const suites: Record<string, () => Promise<{ run(): Promise<void> }>> = {
  versioning: () => import('./versioning.bench.js'),
  poll: () => import('./poll.bench.js'),
  rollout: () => import('./rollout.bench.js'),
  'bulk-upgrade': () => import('./bulk-upgrade.bench.js'),
  scale: () => import('./scale.bench.js'),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : Object.keys(suites).filter((n) => n !== 'scale');
for (const name of names) {
  const load = suites[name];
  if (!load) {
    console.error(`unknown benchmark '${name}'; known: ${Object.keys(suites).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n=== ${name} ===`);
  await (await load()).run();
}
process.exit(0);
