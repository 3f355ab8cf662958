/** Rewrites the relative specifiers of every .d.ts under `distDir` to the emitted files they name; returns how many changed. */
export function fixDeclarationSpecifiers(distDir: string): number;
