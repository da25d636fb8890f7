import type { Options } from 'tsup'

type Plugin = NonNullable<Options['plugins']>[number]

/**
 * msgpackr's Node entry points load its native addon (msgpackr-extract) when it is installed;
 * Lifeline is tested and shipped on msgpackr's pure-JS code only (the codec's README,
 * "msgpackr's native addon"). The sources import `msgpackr/pack`, which is pure JS for `import`
 * and in browsers, but its `require` target is the build that loads the addon: the CommonJS
 * output requires `msgpackr/index-no-eval` instead, the same pure-JS code (without the
 * `new Function` fast path for msgpackr records, which Lifeline turns off). The tsup plugin of
 * every package that imports msgpackr (the codec and `@lifeline/redis`).
 */
export const pureMsgpackrForRequire: Plugin = {
  name: 'pure-msgpackr-for-require',
  renderChunk(code) {
    if (this.format !== 'cjs') return
    // The import as esbuild leaves it: tsup turns split ESM chunks into CommonJS afterwards.
    const pure = code.replace(/(['"])msgpackr\/pack\1/g, '$1msgpackr/index-no-eval$1')
    return pure === code ? undefined : { code: pure }
  },
}
