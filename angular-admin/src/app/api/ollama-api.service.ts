import { HttpClient } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import { map, type Observable } from 'rxjs';
import type { OllamaModel, OllamaModelsResponse } from './admin-api.types';

@Injectable({ providedIn: 'root' })
export class OllamaApi {
  private readonly http = inject(HttpClient);

  /** The models Ollama has, by name. */
  models(): Observable<OllamaModel[]> {
    return this.http.get<OllamaModelsResponse>('/api/ollama-models').pipe(map((response) => response.models));
  }
}
