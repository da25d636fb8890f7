// Checked by `tsc -p tsconfig.json` (the package typecheck): each `expectTypeOf` must hold.
import { expectTypeOf } from 'vitest'
import type { Unset } from '@lifeline/test-utils'
import type { BrowserClientOptions, BrowserSocketOptions } from '../src/index.js'

// Options a wrapper passes on as it got them, under exactOptionalPropertyTypes: each optional
// one, core's included, takes `undefined` as "not given".
expectTypeOf<Unset<BrowserSocketOptions>>().toExtend<BrowserSocketOptions>()
expectTypeOf<
  Unset<BrowserClientOptions> & Pick<BrowserClientOptions, 'url'>
>().toExtend<BrowserClientOptions>()
