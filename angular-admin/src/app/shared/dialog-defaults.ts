import type { Provider } from '@angular/core';
import { MAT_DIALOG_DEFAULT_OPTIONS, MatDialogConfig } from '@angular/material/dialog';

/**
 * Every dialog puts the caret in its first field as it appears, not after its opening animation:
 * Material's default waits for the animation's end and then moves focus there even when the person
 * (or a loaded machine's browser test) has already clicked into another field and typed — the rest
 * of what they typed then lands in the first field ("gpu-two" + "2" became "gpu-two2").
 */
export function provideDialogDefaults(): Provider {
  return { provide: MAT_DIALOG_DEFAULT_OPTIONS, useValue: { ...new MatDialogConfig(), delayFocusTrap: false } satisfies MatDialogConfig };
}
