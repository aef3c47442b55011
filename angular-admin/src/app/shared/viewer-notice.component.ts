import { ChangeDetectionStrategy, Component, inject } from '@angular/core';
import { SessionService } from '../core/session.service';

/** One line for a viewer on pages whose changes it cannot make: why the buttons are missing. */
@Component({
  selector: 'app-viewer-notice',
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    @if (!session.canWrite()) {
      <p class="viewer-notice" role="note" data-testid="viewer-notice">You are signed in as <strong>{{ session.username() }}</strong>, a viewer: you can read everything here, not change it.</p>
    }
  `,
  styles: `
    .viewer-notice { margin: 8px 0; padding: 8px 12px; border-radius: 8px; background: var(--mat-sys-surface-container); color: var(--mat-sys-on-surface-variant); }
  `,
})
export class ViewerNoticeComponent {
  protected readonly session = inject(SessionService);
}
