// Context `app`: the application's own functions that README examples call, declared here.
declare function getToken(): Promise<string>
declare function resync(): void
declare function userFromCookie(
  cookie: string | undefined,
): Promise<{ name: string; banned: boolean } | undefined>
declare function loadHistory(room: string): Promise<string[]>
