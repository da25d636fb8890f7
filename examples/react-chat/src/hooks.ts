import { createLifelineHooks } from '@lifeline/react'
import type { ChatSchema } from './schema.js'

export const { useClient, useConnectionState, useMessage, useRequest, useSend } =
  createLifelineHooks<ChatSchema>()
