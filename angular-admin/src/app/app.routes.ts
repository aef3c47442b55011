import type { Routes } from '@angular/router';
import { adminGuard } from './core/admin.guard';
import { authGuard, guestGuard } from './core/auth.guard';

export const routes: Routes = [
  { path: 'login', canActivate: [guestGuard], title: 'Log in · llmproxy', loadComponent: () => import('./pages/login/login.page').then((m) => m.LoginPage) },
  {
    path: '',
    canActivateChild: [authGuard],
    children: [
      { path: 'overview', title: 'Overview · llmproxy', loadComponent: () => import('./pages/overview/overview.page').then((m) => m.OverviewPage) },
      { path: 'keys', title: 'Keys · llmproxy', loadComponent: () => import('./pages/keys/keys.page').then((m) => m.KeysPage) },
      { path: 'usage', title: 'Usage · llmproxy', loadComponent: () => import('./pages/usage/usage.page').then((m) => m.UsagePage) },
      { path: 'upstreams', title: 'Upstreams · llmproxy', loadComponent: () => import('./pages/upstreams/upstreams.page').then((m) => m.UpstreamsPage) },
      { path: 'settings', title: 'Settings · llmproxy', loadComponent: () => import('./pages/settings/settings.page').then((m) => m.SettingsPage) },
      { path: 'alerts', title: 'Alerts · llmproxy', loadComponent: () => import('./pages/alerts/alerts.page').then((m) => m.AlertsPage) },
      { path: 'audit', title: 'Audit log · llmproxy', loadComponent: () => import('./pages/audit/audit.page').then((m) => m.AuditPage) },
      { path: 'accounts', canActivate: [adminGuard], title: 'Accounts · llmproxy', loadComponent: () => import('./pages/accounts/accounts.page').then((m) => m.AccountsPage) },
      { path: 'password', title: 'Your password · llmproxy', loadComponent: () => import('./pages/password/password.page').then((m) => m.PasswordPage) },
      { path: '', pathMatch: 'full', redirectTo: 'overview' },
    ],
  },
  { path: '**', redirectTo: 'overview' },
];
