// esbuild bundles imported CSS into app.css; to TypeScript such an import has no value.
declare module '*.css';
