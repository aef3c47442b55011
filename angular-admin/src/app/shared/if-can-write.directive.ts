import { Directive, effect, inject, TemplateRef, ViewContainerRef } from '@angular/core';
import { SessionService } from '../core/session.service';

/**
 * `*appIfCanWrite`: the element only for an account that may change things (not a viewer). The
 * server refuses a viewer's writes anyway (403); this spares a viewer buttons that cannot work.
 */
@Directive({ selector: '[appIfCanWrite]' })
export class IfCanWriteDirective {
  private readonly session = inject(SessionService);
  private readonly template = inject(TemplateRef<unknown>);
  private readonly container = inject(ViewContainerRef);
  private shown = false;

  constructor() {
    effect(() => {
      const show = this.session.canWrite();
      if (show === this.shown) return;
      this.shown = show;
      if (show) this.container.createEmbeddedView(this.template);
      else this.container.clear();
    });
  }
}
