/**
 * Results that are either ready or on their way. The memory and SQLite stores
 * answer at once; a Redis store answers later. Rules continue synchronously when a
 * value is ready, so a one-node server's hot path (a direct message) pays no
 * promise and no microtask; only a store that is really asynchronous makes a rule wait.
 */
export type MaybePromise<T> = T | Promise<T>;

export function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return v instanceof Promise;
}

/** f(v) now if v is ready, else once it is. */
export function then<T, R>(v: MaybePromise<T>, f: (t: T) => MaybePromise<R>): MaybePromise<R> {
  return v instanceof Promise ? v.then(f) : f(v);
}

/** All of `vs`, ready at once when each of them is. */
export function all<T>(vs: MaybePromise<T>[]): MaybePromise<T[]> {
  for (const v of vs) if (v instanceof Promise) return Promise.all(vs);
  return vs as T[];
}

/** The items `keep` says yes to, in order; `keep` may answer later. */
export function filter<T>(items: T[], keep: (t: T) => MaybePromise<boolean>): MaybePromise<T[]> {
  return then(all(items.map(keep)), (ok) => items.filter((_, i) => ok[i]));
}
