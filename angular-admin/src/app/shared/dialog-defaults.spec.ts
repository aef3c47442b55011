import { TestBed } from '@angular/core/testing';
import { firstValueFrom } from 'rxjs';
import { MATERIAL_ANIMATIONS } from '@angular/material/core';
import { MatDialog } from '@angular/material/dialog';
import { setUpApi } from '../../testing/api-testing';
import { UpstreamFormDialog } from '../pages/upstreams/upstream-form.dialog';
import { provideDialogDefaults } from './dialog-defaults';

describe('dialog defaults', () => {
  afterEach(() => document.querySelectorAll('.cdk-overlay-container').forEach((node) => node.remove()));

  it('focuses the first field as the dialog appears and leaves the focus where the person put it during the opening animation', async () => {
    // With its animation, as in the browser: the default moved focus at the animation's end.
    TestBed.configureTestingModule({ providers: [provideDialogDefaults()] });
    TestBed.overrideProvider(MATERIAL_ANIMATIONS, { useValue: { animationsDisabled: false } });
    setUpApi();
    const dialog = TestBed.inject(MatDialog).open(UpstreamFormDialog, { data: { mode: 'create' } });
    const byTestId = (id: string) => document.querySelector<HTMLInputElement>(`[data-testid="${id}"]`);
    await new Promise((resolve) => setTimeout(resolve, 0));
    TestBed.tick();
    expect(document.activeElement).toBe(byTestId('upstream-name-input'));

    // The person clicks into the URL field before the animation (150 ms) is over.
    byTestId('upstream-url-input')!.focus();
    await new Promise((resolve) => setTimeout(resolve, 400));
    TestBed.tick();
    expect(document.activeElement).toBe(byTestId('upstream-url-input'));

    // Closed, with its closing animation over, before the next spec: no timer of it runs there.
    dialog.close();
    await firstValueFrom(dialog.afterClosed());
  });
});
