/** Rewrites the relative specifiers of every .d.ts under `distDir` to the emitted files they name; returns how many changed. */
export function fixDeclarationSpecifiers(distDir: string): number;
/** Removes the .d.ts files (and maps) under `distDir` whose source under `srcDir` is gone; returns their paths relative to `distDir`, sorted. */
export function removeStaleDeclarations(distDir: string, srcDir: string): string[];
