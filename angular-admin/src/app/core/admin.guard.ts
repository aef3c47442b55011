import { inject } from '@angular/core';
import { Router, type CanActivateFn } from '@angular/router';
import { SessionService } from './session.service';

/** Pages for admins only (the accounts): a viewer goes to the keys, which it may read. */
export const adminGuard: CanActivateFn = () => (inject(SessionService).isAdmin() ? true : inject(Router).createUrlTree(['/keys']));
