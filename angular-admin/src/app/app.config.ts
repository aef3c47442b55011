import { provideHttpClient, withInterceptors } from '@angular/common/http';
import { type ApplicationConfig, provideBrowserGlobalErrorListeners } from '@angular/core';
import { provideRouter, withComponentInputBinding } from '@angular/router';
import { adminInterceptor } from './core/admin.interceptor';
import { routes } from './app.routes';
import { provideDialogDefaults } from './shared/dialog-defaults';

export const appConfig: ApplicationConfig = {
  providers: [
    provideBrowserGlobalErrorListeners(),
    provideRouter(routes, withComponentInputBinding()),
    provideHttpClient(withInterceptors([adminInterceptor])),
    provideDialogDefaults(),
  ],
};
