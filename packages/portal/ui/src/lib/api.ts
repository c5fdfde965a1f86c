/** The portal's API from its own pages: same origin, JSON, the session's CSRF token on every change. */
let csrf = ''

export function setCsrf(token: string): void {
  csrf = token
}

export class ApiError extends Error {
  readonly code: string
  readonly status: number
  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  })
  const text = await res.text()
  const json = text ? JSON.parse(text) : null
  if (!res.ok)
    throw new ApiError(res.status, json?.error?.code ?? 'error', json?.error?.message ?? `HTTP ${res.status}`)
  return json as T
}

export interface AccountView {
  account: { id: string; email: string; emailVerified: boolean }
  level: 'setup' | 'full'
  csrfToken: string
  passkeys: { id: string; name: string; createdAt: string; lastUsedAt: string | null }[]
}

/** The signed-in account, or null. */
export async function loadAccount(): Promise<AccountView | null> {
  try {
    const a = await api<AccountView>('GET', '/account')
    setCsrf(a.csrfToken)
    return a
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null
    throw err
  }
}
