// Who may import whom (docs/architecture.md, "Dependency rules"), checked by `npx depcruise src bench` in
// the lint step of scripts/test. Every rule is an error: an import against them fails CI.

// Test code may reach anywhere (an end-to-end test starts the daemon); layer rules are for the product.
const testCode = [
  '[.]test[.]ts$',
  '[.]conformance[.]ts$',
  '/testing/',
  '/testing-[^/]+[.]ts$',
  '-worker[.]ts$',
  '/fuzz/',
];

// Interface files: what other layers rely on. Each is a leaf: it imports base/ and other interfaces only.
const interfaceFiles = [
  '^src/storage/block-store[.]ts$',
  '^src/objectstore/snapshot-store[.]ts$',
  '^src/nbd/nbd-server[.]ts$',
  '^src/compute/vm-driver[.]ts$',
];

/** A layer that may import only base/ and the listed layers (besides itself). */
function layer(name, allowed, severity = 'error') {
  const others = ['base', name, ...allowed].join('|');
  return {
    name: `layer-${name}`,
    comment: `${name}/ may import only ${['base', ...allowed].join(', ')} (docs/architecture.md)`,
    severity,
    from: { path: `^src/${name}/`, pathNot: testCode },
    to: { path: '^src/', pathNot: `^src/(${others})/` },
  };
}

/** Outside `folder`, only its entry files may be imported (the rest is its implementation). */
function face(folder, entries, severity = 'error') {
  return {
    name: `face-${folder.replaceAll('/', '-')}`,
    comment: `outside src/${folder}/, import only ${entries.join(', ')}`,
    severity,
    from: { path: '^src/', pathNot: [`^src/${folder}/`, ...testCode] },
    to: {
      path: `^src/${folder}/`,
      pathNot: entries.map((entry) => `^src/${folder}/${entry.replaceAll('.', '[.]')}$`),
    },
  };
}

export default {
  forbidden: [
    {
      name: 'no-circular',
      comment:
        'no import circles: a cycle means two files are one concept, or an interface imports its implementation',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'interface-is-leaf',
      comment: 'an interface file imports only base/ and other interface files, never an implementation',
      severity: 'error',
      from: { path: interfaceFiles },
      to: { path: '^src/', pathNot: ['^src/base/', ...interfaceFiles] },
    },
    layer('base', []),
    layer('db', []),
    layer('storage', []),
    layer('nbd', ['storage']),
    // network/ (issue 13, on main since this branch began): the per-VPC switch; instances and QEMU use it.
    layer('network', []),
    // metadata/ (issue 14): the instance metadata service; cloud fills its face, the daemon serves it.
    layer('metadata', []),
    layer('compute', ['storage', 'nbd', 'network']),
    layer('objectstore', ['storage']),
    layer('cloud', ['db', 'storage', 'nbd', 'network', 'metadata', 'compute', 'objectstore']),
    {
      name: 'cloud-not-api',
      comment:
        'the domain must not depend on the HTTP edge: errors live in cloud/errors.ts, rendering in api/',
      severity: 'error',
      from: { path: '^src/cloud/', pathNot: testCode },
      to: { path: '^src/api/' },
    },
    layer('api', ['db', 'storage', 'nbd', 'network', 'metadata', 'compute', 'objectstore', 'cloud']),
    layer('daemon', [
      'db',
      'storage',
      'nbd',
      'network',
      'metadata',
      'compute',
      'objectstore',
      'cloud',
      'api',
    ]),
    {
      name: 'console-app-is-browser-code',
      comment:
        'src/console/app/ runs in the browser: it talks to the daemon only over HTTP (the AWS SDK, the extension API), never by importing server code',
      severity: 'error',
      from: { path: '^src/console/app/' },
      to: { path: '^src/', pathNot: '^src/console/app/' },
    },
    {
      name: 'no-server-imports-console-app',
      comment:
        'the browser app is bundled on its own (src/console/console-build.mjs); server code never imports it',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/console/'] },
      to: { path: '^src/console/app/' },
    },
    face('storage', ['block-store.ts', 'open-block-store.ts']),
    face('nbd', ['nbd-server.ts', 'start-nbd-server.ts']),
    face('objectstore', ['snapshot-store.ts', 'open-snapshot-store.ts', 'objectstore.ts']),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a circle through types is still two files that cannot be read apart.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
