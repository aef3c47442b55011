import { ClipboardModule } from '@angular/cdk/clipboard';
import { ChangeDetectionStrategy, Component, computed, inject, signal } from '@angular/core';
import { toSignal } from '@angular/core/rxjs-interop';
import { MatButtonModule } from '@angular/material/button';
import { MAT_DIALOG_DATA, MatDialogModule } from '@angular/material/dialog';
import { MatSnackBar } from '@angular/material/snack-bar';
import { MatTabsModule } from '@angular/material/tabs';
import { catchError, map, of } from 'rxjs';
import type { ApiKeyWithSecret } from '../../api/admin-api.types';
import { OllamaApi } from '../../api/ollama-api.service';
import { ProxyInfoApi } from '../../api/proxy-info-api.service';
import { SettingsApi } from '../../api/settings-api.service';
import { buildSnippets } from './snippets';

export interface NewKeyData {
  key: ApiKeyWithSecret;
  /** Why there is a new secret: a new key or a rotated one. */
  reason: 'created' | 'rotated';
}

/** The one time a plaintext key is shown; closing it loses the key for good. */
@Component({
  selector: 'app-new-key-dialog',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [MatDialogModule, MatButtonModule, MatTabsModule, ClipboardModule],
  templateUrl: './new-key.dialog.html',
  styleUrl: './new-key.dialog.scss',
})
export class NewKeyDialog {
  private readonly snackBar = inject(MatSnackBar);
  protected readonly data = inject<NewKeyData>(MAT_DIALOG_DATA);

  // The interceptor shows why either failed; the key itself is still shown and copyable.
  private readonly proxyInfo = toSignal(inject(ProxyInfoApi).get().pipe(catchError(() => of(null))), { initialValue: undefined });
  private readonly defaultModel = toSignal(
    inject(SettingsApi)
      .get()
      .pipe(
        map((settings) => settings.default_model),
        catchError(() => of(null)),
      ),
    { initialValue: null },
  );
  /** A model the servers really have, for a gateway with no default model. */
  private readonly firstModel = toSignal(
    inject(OllamaApi)
      .models()
      .pipe(
        map((models) => models[0]?.name ?? null),
        catchError(() => of(null)),
      ),
    { initialValue: null },
  );

  /** The model the examples ask for: one the key may use, else the gateway's default, else one the servers have. */
  protected readonly model = computed(() => this.data.key.allowed_models?.[0] ?? this.defaultModel() ?? this.firstModel() ?? 'llama3.2');
  protected readonly snippets = computed(() => {
    const info = this.proxyInfo();
    return info ? buildSnippets(info, this.data.key.key, this.model()) : null;
  });
  protected readonly loadingSnippets = computed(() => this.proxyInfo() === undefined);
  protected readonly copied = signal(false);

  protected onCopied(what: string, ok: boolean): void {
    if (what === 'key') this.copied.set(ok);
    this.snackBar.open(ok ? `Copied ${what}.` : `Could not copy ${what}; select it and copy by hand.`, undefined, { duration: 2500 });
  }
}
