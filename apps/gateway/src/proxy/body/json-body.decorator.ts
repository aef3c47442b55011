import { SetMetadata } from '@nestjs/common';

export const READS_JSON_BODY = 'llmproxy:reads-json-body';

/** The route reads a JSON body: JsonBodyInterceptor parses it (after auth) into `request.json`. */
export const ReadsJsonBody = () => SetMetadata(READS_JSON_BODY, true);
