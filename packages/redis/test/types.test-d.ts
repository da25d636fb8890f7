// Checked by `tsc -p tsconfig.json` (the package typecheck): each `expectTypeOf` must hold.
import { expectTypeOf } from 'vitest'
import type { Unset } from '@lifeline/test-utils'
import type { RedisClusterOptions } from '../src/index.js'

// Options a wrapper passes on as it got them, under exactOptionalPropertyTypes: each optional
// one takes `undefined` as "not given".
expectTypeOf<
  Unset<RedisClusterOptions> & Pick<RedisClusterOptions, 'redis'>
>().toExtend<RedisClusterOptions>()
