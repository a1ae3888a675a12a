// Smoke test of bench/nbd.ts --quick: every server runs every workload and yields a positive number.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { formatTable, runBench } from './nbd.ts';

const tools = ['qemu-nbd', 'nbdkit', 'nbdcopy', 'fio', 'qemu-img'];
const missing = tools.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);

test(
  'bench/nbd.ts --quick measures Strata, qemu-nbd, nbdkit and the qcow2 overlay',
  { skip: missing.length > 0 ? `missing ${missing.join(', ')}` : false, timeout: 60_000 },
  async () => {
    const rows = await runBench({
      quick: true,
      sizeBytes: 32 * 1024 * 1024,
      runtimeSeconds: 1,
      dir: tmpdir(),
      profile: false,
      only: ['strata', 'qemu', 'nbdkit', 'qcow2'],
      repeat: 1,
    });
    assert.equal(rows.length, 5);
    for (const row of rows) {
      const servers = row.workload.includes('after snapshot')
        ? ['strata', 'qemu-nbd qcow2 overlay']
        : ['strata', 'qemu-nbd raw', 'nbdkit file'];
      for (const server of servers)
        assert.ok((row.results[server] ?? 0) > 0, `${row.workload}: ${server} measured`);
    }
    assert.match(formatTable(rows), /\| 4K rand read QD32 \(fio\) \| IOPS \| \d+ \| \d+ \| \d+ \|/);
  },
);
