import { inject } from '@angular/core';
import { Router, type CanActivateFn } from '@angular/router';
import { SessionService } from './session.service';

/** Pages behind the login: without a live session, go to the login page and come back afterwards. */
export const authGuard: CanActivateFn = (_route, state) => {
  const session = inject(SessionService);
  if (session.isLoggedIn()) return true;
  return inject(Router).createUrlTree(['/login'], { queryParams: state.url && state.url !== '/' ? { returnUrl: state.url } : {} });
};

/** The login page is for those without a session. */
export const guestGuard: CanActivateFn = () => (inject(SessionService).isLoggedIn() ? inject(Router).createUrlTree(['/overview']) : true);
