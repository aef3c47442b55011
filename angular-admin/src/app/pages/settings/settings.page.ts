import { ChangeDetectionStrategy, Component, ElementRef, computed, inject, signal } from '@angular/core';
import { type AbstractControl, FormArray, FormControl, FormGroup, type FormGroupDirective, type NgForm, ReactiveFormsModule, type ValidationErrors, Validators } from '@angular/forms';
import { MatButtonModule } from '@angular/material/button';
import { IfCanWriteDirective } from '../../shared/if-can-write.directive';
import { ViewerNoticeComponent } from '../../shared/viewer-notice.component';
import { MatCheckboxModule } from '@angular/material/checkbox';
import type { ErrorStateMatcher } from '@angular/material/core';
import { MatFormFieldModule } from '@angular/material/form-field';
import { MatInputModule } from '@angular/material/input';
import { MatProgressBarModule } from '@angular/material/progress-bar';
import { MatSelectModule } from '@angular/material/select';
import { finalize } from 'rxjs';
import type { OllamaStatus, Settings, UpdateSettingsRequest, UpdateSettingsResponse } from '../../api/admin-api.types';
import { OllamaApi } from '../../api/ollama-api.service';
import { SettingsApi } from '../../api/settings-api.service';
import { ApiError, errorMessage } from '../../core/api-error';

const MIN_NUM_CTX = 512;
const MAX_NUM_CTX = 1_048_576;
/** keep_alive bounds in seconds: at least 1 (0 would unload a model others use), at most a day. */
const MIN_KEEP_ALIVE_S = 1;
const MAX_KEEP_ALIVE_S = 86_400;
const WHOLE_NUMBER = /^\d+$/;
const keepAliveValidators = [Validators.required, Validators.min(MIN_KEEP_ALIVE_S), Validators.max(MAX_KEEP_ALIVE_S), Validators.pattern(WHOLE_NUMBER)];

type AliasRow = FormGroup<{ pattern: FormControl<string>; model: FormControl<string> }>;

/** What the last test or save learned about Ollama, and what became of the URL. */
interface ConnectionResult {
  url: string;
  status: OllamaStatus;
  /** '' when the URL was the saved one already. */
  note: '' | 'saved' | 'not saved';
}

@Component({
  selector: 'app-settings-page',
  changeDetection: ChangeDetectionStrategy.OnPush,
  imports: [IfCanWriteDirective, ViewerNoticeComponent, ReactiveFormsModule, MatFormFieldModule, MatInputModule, MatSelectModule, MatButtonModule, MatCheckboxModule, MatProgressBarModule],
  templateUrl: './settings.page.html',
  styleUrl: './settings.page.scss',
})
export class SettingsPage {
  private readonly settingsApi = inject(SettingsApi);
  private readonly ollamaApi = inject(OllamaApi);
  private readonly host = inject<ElementRef<HTMLElement>>(ElementRef);

  protected readonly form = new FormGroup(
    {
      ollama_url: new FormControl('', { nonNullable: true, validators: [Validators.required, Validators.pattern(/^https?:\/\/[^\s?#]+$/)] }),
      default_model: new FormControl<string | null>(null),
      model_aliases: new FormArray<AliasRow>([]),
      num_ctx: new FormControl<number | null>(null, [Validators.required, Validators.min(MIN_NUM_CTX), Validators.max(MAX_NUM_CTX), Validators.pattern(WHOLE_NUMBER)]),
      keep_alive_min_s: new FormControl<number | null>(null, keepAliveValidators),
      keep_alive_max_s: new FormControl<number | null>(null, keepAliveValidators),
      /** Empty (null): the same as num_ctx. */
      max_num_ctx: new FormControl<number | null>(null, [Validators.min(MIN_NUM_CTX), Validators.max(MAX_NUM_CTX), Validators.pattern(WHOLE_NUMBER)]),
      allow_load_options: new FormControl(false, { nonNullable: true }),
      allow_cloud_models: new FormControl(false, { nonNullable: true }),
      save_unreachable: new FormControl(false, { nonNullable: true }),
      save_unknown_models: new FormControl(false, { nonNullable: true }),
    },
    { validators: keepAliveOrder },
  );
  /** The checkbox's label, which the refusal of an unreachable URL points at. */
  protected readonly saveUnreachableLabel = 'Save the URL even if Ollama does not answer';
  /** The checkbox's label, which the refusal of a model no server has points at. */
  protected readonly saveUnknownModelsLabel = 'Save the default model and aliases even if no Ollama server has the model yet';
  /** A save refused because a new default model or alias target is on no server: which ones. */
  protected readonly unknownModels = signal<string[] | null>(null);
  protected readonly numCtxRange = { min: MIN_NUM_CTX, max: MAX_NUM_CTX };
  protected readonly keepAliveRange = { min: MIN_KEEP_ALIVE_S, max: MAX_KEEP_ALIVE_S };
  /** A minimum above the maximum is the form's error, not either field's: both turn red once either was left (Material's rule for one field). */
  protected readonly keepAliveErrors: ErrorStateMatcher = {
    isErrorState: (control: AbstractControl | null, parent: FormGroupDirective | NgForm | null) => {
      const edited = (c: AbstractControl | null) => !!c && (c.touched || !!parent?.submitted);
      const { keep_alive_min_s: min, keep_alive_max_s: max } = this.form.controls;
      return (!!control?.invalid && edited(control)) || (this.form.hasError('keepAliveOrder') && (edited(min) || edited(max)));
    },
  };

  protected readonly loaded = signal<Settings | null>(null);
  protected readonly loading = signal(true);
  protected readonly loadError = signal<string | null>(null);
  protected readonly saving = signal(false);
  protected readonly error = signal<string | null>(null);
  protected readonly savedNotice = signal<string | null>(null);
  protected readonly connection = signal<ConnectionResult | null>(null);
  protected readonly ollamaModels = signal<string[]>([]);
  protected readonly modelsError = signal<string | null>(null);

  /** Ollama's models plus the saved default, which Ollama may no longer have. */
  protected readonly modelOptions = computed(() => {
    const saved = this.loaded()?.default_model;
    return [...new Set([...this.ollamaModels(), ...(saved ? [saved] : [])])].sort();
  });

  constructor() {
    this.settingsApi
      .get()
      .pipe(finalize(() => this.loading.set(false)))
      .subscribe({
        next: (settings) => this.fill(settings),
        error: (error: unknown) => this.loadError.set(errorMessage(error)),
      });
    this.loadModels();
  }

  protected get aliases(): FormArray<AliasRow> {
    return this.form.controls.model_aliases;
  }

  protected addAlias(pattern = '', model = ''): void {
    this.aliases.push(
      new FormGroup({
        pattern: new FormControl(pattern, { nonNullable: true, validators: [Validators.required, Validators.maxLength(200)] }),
        model: new FormControl(model, { nonNullable: true, validators: [Validators.required, Validators.maxLength(200)] }),
      }),
    );
    this.form.markAsDirty();
  }

  protected removeAlias(index: number): void {
    this.aliases.removeAt(index);
    this.form.markAsDirty();
  }

  /** Asks the server to check the URL in the field; a changed URL that answers is saved by that check. */
  protected testConnection(): void {
    const url = this.form.controls.ollama_url;
    if (url.invalid) return;
    this.send({ ollama_url: url.value.trim(), ...(this.form.controls.save_unreachable.value ? { save_unreachable: true } : {}) });
  }

  protected save(): void {
    if (this.form.invalid) return;
    const value = this.form.getRawValue();
    const aliases: Record<string, string> = {};
    for (const row of value.model_aliases) aliases[row.pattern.trim()] = row.model.trim();
    this.send({
      ollama_url: value.ollama_url.trim(),
      default_model: value.default_model,
      model_aliases: aliases,
      num_ctx: Number(value.num_ctx),
      keep_alive_min_s: Number(value.keep_alive_min_s),
      keep_alive_max_s: Number(value.keep_alive_max_s),
      max_num_ctx: isBlank(value.max_num_ctx) ? null : Number(value.max_num_ctx),
      allow_load_options: value.allow_load_options,
      allow_cloud_models: value.allow_cloud_models,
      ...(value.save_unreachable ? { save_unreachable: true } : {}),
      ...(value.save_unknown_models ? { save_unknown_models: true } : {}),
    });
  }

  private send(request: UpdateSettingsRequest): void {
    const previousUrl = this.loaded()?.ollama_url;
    this.saving.set(true);
    this.error.set(null);
    this.unknownModels.set(null);
    this.savedNotice.set(null);
    this.settingsApi
      .update(request)
      .pipe(finalize(() => this.saving.set(false)))
      .subscribe({
        next: (response: UpdateSettingsResponse) => {
          const urlChanged = response.settings.ollama_url !== previousUrl;
          const fullSave = request.num_ctx !== undefined;
          this.connection.set({ url: response.settings.ollama_url, status: response.ollama, note: urlChanged ? 'saved' : '' });
          this.savedNotice.set(fullSave ? 'Settings saved.' : urlChanged ? 'The new Ollama URL was saved.' : null);
          // Unsaved edits to the other fields survive a connection test.
          if (fullSave) this.fill(response.settings);
          else {
            this.loaded.set(response.settings);
            this.form.controls.ollama_url.setValue(response.settings.ollama_url);
          }
          if (urlChanged) this.loadModels();
        },
        error: (error: unknown) => {
          const ollama = ollamaOf(error);
          // Refused because Ollama does not answer: one message, by the checkbox that overrides it, in words
          // rather than the API's (`send "save_unreachable": true`); it is brought into view if Save was far below.
          const unknown = unknownModelsOf(error);
          if (ollama && request.ollama_url) {
            this.connection.set({ url: request.ollama_url, status: ollama, note: 'not saved' });
            this.revealStatus('settings-ollama-status');
          } else if (unknown) {
            // Likewise a model no server has: one message, by its checkbox, in words.
            this.unknownModels.set(unknown);
            this.revealStatus('settings-unknown-models');
          } else this.error.set(errorMessage(error));
        },
      });
  }

  private revealStatus(testId: string): void {
    setTimeout(() => this.host.nativeElement.querySelector(`[data-testid="${testId}"]`)?.scrollIntoView?.({ block: 'center' }));
  }

  private fill(settings: Settings): void {
    this.loaded.set(settings);
    this.aliases.clear();
    for (const [pattern, model] of Object.entries(settings.model_aliases)) this.addAlias(pattern, model);
    this.form.reset({
      ollama_url: settings.ollama_url,
      default_model: settings.default_model,
      num_ctx: settings.num_ctx,
      keep_alive_min_s: settings.keep_alive_min_s,
      keep_alive_max_s: settings.keep_alive_max_s,
      max_num_ctx: settings.max_num_ctx,
      allow_load_options: settings.allow_load_options,
      allow_cloud_models: settings.allow_cloud_models,
      save_unreachable: false,
      save_unknown_models: false,
    });
    this.form.markAsPristine();
  }

  private loadModels(): void {
    this.ollamaApi.models().subscribe({
      next: (models) => {
        this.ollamaModels.set(models.map((model) => model.name));
        this.modelsError.set(null);
      },
      error: (error: unknown) => this.modelsError.set(errorMessage(error)),
    });
  }
}

/** The server refuses keep_alive_min_s > keep_alive_max_s; checked only once both are valid numbers. */
function keepAliveOrder(form: AbstractControl): ValidationErrors | null {
  const min = form.get('keep_alive_min_s');
  const max = form.get('keep_alive_max_s');
  if (!min || !max || min.invalid || max.invalid) return null;
  return Number(min.value) > Number(max.value) ? { keepAliveOrder: true } : null;
}

/** An emptied number input reads as null (or '' before Angular parses it). */
function isBlank(value: unknown): boolean {
  return value === null || value === undefined || value === '';
}

/** A refused unreachable URL comes back as a 400 carrying the probe's result. */
function ollamaOf(error: unknown): OllamaStatus | null {
  if (!(error instanceof ApiError) || typeof error.body !== 'object' || error.body === null) return null;
  const ollama = (error.body as { ollama?: unknown }).ollama;
  return typeof ollama === 'object' && ollama !== null && 'reachable' in ollama ? (ollama as OllamaStatus) : null;
}

/** A save refused because a new default model or alias target is on no server: the models it named. */
function unknownModelsOf(error: unknown): string[] | null {
  if (!(error instanceof ApiError) || typeof error.body !== 'object' || error.body === null) return null;
  const unknown = (error.body as { unknown_models?: unknown }).unknown_models;
  return Array.isArray(unknown) && unknown.every((model) => typeof model === 'string') ? (unknown as string[]) : null;
}
