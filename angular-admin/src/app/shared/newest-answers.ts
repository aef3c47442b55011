import { catchError, map, of, switchMap, type Observable } from 'rxjs';
import { errorMessage } from '../core/api-error';

/** One answer to a reload: the value, or the API's message when it failed. */
export type Answer<T> = { value: T; error: null } | { value: null; error: string };

/**
 * Asks `load` again at each trigger, and the newest question wins: the request still in flight is
 * cancelled, so an answer from before a change can never overwrite one from after it (two list
 * requests in flight come back in either order). A failure is an answer too; the triggers go on.
 */
export function newestAnswers<T>(triggers: Observable<unknown>, load: () => Observable<T>): Observable<Answer<T>> {
  return triggers.pipe(
    switchMap(() =>
      load().pipe(
        map((value): Answer<T> => ({ value, error: null })),
        catchError((error: unknown) => of<Answer<T>>({ value: null, error: errorMessage(error) })),
      ),
    ),
  );
}
