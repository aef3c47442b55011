import { InteractivityChecker } from '@angular/cdk/a11y';
import { provideHttpClient, withInterceptors } from '@angular/common/http';
import { HttpTestingController, provideHttpClientTesting } from '@angular/common/http/testing';
import { TestBed } from '@angular/core/testing';
import { MATERIAL_ANIMATIONS } from '@angular/material/core';
import { MatSnackBar } from '@angular/material/snack-bar';
import { Router, provideRouter } from '@angular/router';
import type { Observable } from 'rxjs';
import { vi } from 'vitest';
import { adminInterceptor } from '../app/core/admin.interceptor';
import { SESSION_STORAGE_KEY } from '../app/core/session.service';

export const TEST_TOKEN = 'session-token-123';

/**
 * The real HttpClient with the real interceptor in front of HttpTestingController, and a stored
 * session as a reload would find it, so every service spec also proves the token is sent.
 */
export function setUpApi(options: { loggedIn?: boolean } = {}) {
  localStorage.clear();
  if (options.loggedIn ?? true) {
    localStorage.setItem(SESSION_STORAGE_KEY, JSON.stringify({ token: TEST_TOKEN, expires_at: new Date(Date.now() + 3_600_000).toISOString() }));
  }
  TestBed.configureTestingModule({
    providers: [
      provideHttpClient(withInterceptors([adminInterceptor])),
      provideHttpClientTesting(),
      provideRouter([]),
      // Dialogs open and close at once: jsdom runs no CSS animations to wait for.
      { provide: MATERIAL_ANIMATIONS, useValue: { animationsDisabled: true } },
      // jsdom has no layout, so every element would look hidden and unfocusable to dialogs.
      { provide: InteractivityChecker, useValue: { isFocusable: () => true, isTabbable: () => true, isVisible: () => true, isDisabled: () => false } },
    ],
  });
  const snackBarOpen = vi.spyOn(TestBed.inject(MatSnackBar), 'open').mockReturnValue(undefined as never);
  const navigate = vi.spyOn(TestBed.inject(Router), 'navigate').mockResolvedValue(true);
  return { http: TestBed.inject(HttpTestingController), snackBarOpen, navigate };
}

/** Subscribes and keeps what arrived, for assertions after the fake response is flushed. */
export function capture<T>(source: Observable<T>) {
  const result: { value?: T; error?: unknown; done: boolean } = { done: false };
  source.subscribe({
    next: (value) => {
      result.value = value;
      result.done = true;
    },
    error: (error) => {
      result.error = error;
      result.done = true;
    },
  });
  return result;
}

/** Submits the form around a submit button as a click would (jsdom has no requestSubmit), unless the button is disabled. */
export function submitWith(button: HTMLButtonElement): void {
  if (button.disabled) throw new Error(`${button.dataset['testid'] ?? 'the submit button'} is disabled`);
  button.closest('form')!.dispatchEvent(new Event('submit', { cancelable: true }));
}
