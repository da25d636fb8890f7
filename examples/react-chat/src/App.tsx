import { useCallback, useEffect, useRef, useState } from 'react'
import { ConnectionBadge } from './ConnectionBadge.js'
import { useClient, useConnectionState, useMessage, useRequest, useSend } from './hooks.js'
import { chatLimits, cut } from './limits.js'
import { confirm, merge, withHistory, type Line } from './lines.js'

export function App({ name, initialRoom }: { name: string; initialRoom: string }) {
  const client = useClient()
  const send = useSend()
  const [room, setRoom] = useState(initialRoom)
  const [lines, setLines] = useState<Line[]>([])
  const [draft, setDraft] = useState('')
  // What is typed in the room box: the room changes when it is entered (Enter, or leaving the
  // box), not on every keystroke, which would join a room per prefix typed.
  const [roomDraft, setRoomDraft] = useState(initialRoom)
  const enterRoom = () => {
    const next = cut(roomDraft.trim(), chatLimits.nameLength) || 'lobby'
    setRoomDraft(next)
    if (next === room) return
    setLines([])
    setRoom(next)
  }
  const counter = useRef(0)

  const online = useConnectionState((state) => state.status === 'open')
  // Membership belongs to the session and is kept across reconnects, but a session the server
  // lost (its process restarted, or the page was away for longer than a session waits) comes
  // back as a new one in no room: joined on every connection, then (a join is idempotent), and
  // before the history below is asked for. The room left behind is left, or the session would
  // keep getting (and this page keep receiving) every room it was ever in.
  const joined = useRef<string | undefined>(undefined)
  useEffect(() => {
    if (!online) return
    if (joined.current !== undefined && joined.current !== room) {
      send('leave', { room: joined.current })
    }
    send('join', { room })
    joined.current = room
  }, [send, room, online])
  // The history again on every (re)connection: a room's message sent while this page's session
  // was away from the server (rooms live in the server's process) is caught up from it.
  const history = useRequest('history', { room }, { enabled: online, deps: [room, online] })
  // The lines shown as it is asked for (it is sent after this commit): those the history no
  // longer holds came before it, and a line that came live since, after it.
  const shownWhenAsked = useRef<ReadonlySet<string>>(new Set())
  useEffect(() => {
    shownWhenAsked.current = new Set(lines.map((line) => line.id))
  }, [room, online])
  useEffect(() => {
    if (history.data) {
      setLines((current) => withHistory(current, history.data ?? [], shownWhenAsked.current))
    }
  }, [history.data])
  useMessage('said', (said) => {
    if (said.room === room) setLines((current) => merge(current, said))
  })

  const say = useCallback(
    (text: string) => {
      const id = `${name}-${Date.now().toString(36)}-${++counter.current}`
      const receipt = send('say', { room, id, text })
      setLines((current) => merge(current, { room, id, from: name, text }, true))
      // Pending until the server has it: its acknowledgement settles the receipt.
      client.delivered(receipt).then(
        () => setLines((current) => confirm(current, id)),
        () => undefined,
      )
    },
    [client, send, name, room],
  )

  return (
    <main>
      <h1>
        #{room} <small>as {name}</small>
      </h1>
      <ConnectionBadge />
      <form
        onSubmit={(event) => {
          event.preventDefault()
          enterRoom()
        }}
      >
        <label>
          room{' '}
          <input
            value={roomDraft}
            maxLength={chatLimits.nameLength}
            onChange={(event) => setRoomDraft(event.target.value)}
            onBlur={enterRoom}
          />
        </label>
      </form>
      <ol data-testid="messages">
        {lines.map((line) => (
          <li key={line.id} data-id={line.id} className={line.pending ? 'pending' : 'confirmed'}>
            <b>{line.from}</b>: <span data-testid="text">{line.text}</span>{' '}
            {line.pending ? '(pending)' : '✓'}
          </li>
        ))}
      </ol>
      <form
        onSubmit={(event) => {
          event.preventDefault()
          // As the server keeps it: the page shows its own line as the others get it.
          const text = cut(draft.trim(), chatLimits.textLength)
          if (text) say(text)
          setDraft('')
        }}
      >
        <input
          aria-label="message"
          value={draft}
          maxLength={chatLimits.textLength}
          onChange={(event) => setDraft(event.target.value)}
        />
        <button type="submit">send</button>
      </form>
    </main>
  )
}
