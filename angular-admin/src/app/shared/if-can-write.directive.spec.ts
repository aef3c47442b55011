import { ChangeDetectionStrategy, Component } from '@angular/core';
import { TestBed } from '@angular/core/testing';
import { setUpApi } from '../../testing/api-testing';
import { SessionService } from '../core/session.service';
import { IfCanWriteDirective } from './if-can-write.directive';
import { ViewerNoticeComponent } from './viewer-notice.component';

@Component({
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [IfCanWriteDirective, ViewerNoticeComponent],
  template: `<app-viewer-notice /><button *appIfCanWrite data-testid="write">Delete</button><button data-testid="read">Refresh</button>`,
})
class Host {}

describe('*appIfCanWrite and the viewer notice', () => {
  beforeEach(() => setUpApi());

  const render = async () => {
    const fixture = TestBed.createComponent(Host);
    await fixture.whenStable();
    const element = fixture.nativeElement as HTMLElement;
    return { fixture, has: (id: string) => element.querySelector(`[data-testid="${id}"]`) !== null };
  };

  it('shows write actions to an admin, and to a session whose role is not known yet (the server decides)', async () => {
    const { has } = await render();
    expect([has('write'), has('read'), has('viewer-notice')]).toEqual([true, true, false]);
    TestBed.inject(SessionService).setAccount({ username: 'alice', role: 'admin' });
    expect((await render()).has('write')).toBe(true);
  });

  it('hides them from a viewer and says why; they come back when the role does', async () => {
    const session = TestBed.inject(SessionService);
    session.setAccount({ username: 'vera', role: 'viewer' });
    const { fixture, has } = await render();
    expect([has('write'), has('read'), has('viewer-notice')]).toEqual([false, true, true]);
    expect((fixture.nativeElement as HTMLElement).textContent).toContain('vera');
    session.setAccount({ username: 'vera', role: 'admin' });
    await fixture.whenStable();
    expect([has('write'), has('viewer-notice')]).toEqual([true, false]);
  });
});
