import { allMemberPaths, checkError, checkInput, checkOutput, checkValue, memberPaths, type WireResponse } from '../support/model-checker';
import { buildRequest, iotServiceModel, type ServiceModel } from '../support/service-model';

/**
 * The conformance checker itself (test/support/model-checker.ts): every kind of difference it is there to
 * catch, against a small model written here and against the real `iot` model.
 */

const model: ServiceModel = {
  metadata: { protocol: 'rest-json', apiVersion: '2015-05-28', serviceId: 'Test' },
  operations: {
    DescribeWidget: {
      name: 'DescribeWidget',
      http: { method: 'GET', requestUri: '/widgets/{widgetName}' },
      input: { shape: 'DescribeWidgetRequest' },
      output: { shape: 'DescribeWidgetResponse' },
      errors: [{ shape: 'ResourceNotFoundException' }],
    },
    DeleteWidget: { name: 'DeleteWidget', http: { method: 'DELETE', requestUri: '/widgets/{widgetName}' } },
    GetWidgetBlob: {
      name: 'GetWidgetBlob',
      http: { method: 'GET', requestUri: '/widgets/{widgetName}/blob', responseCode: 201 },
      output: { shape: 'GetWidgetBlobResponse' },
    },
  },
  shapes: {
    DescribeWidgetRequest: {
      type: 'structure',
      required: ['widgetName'],
      members: {
        widgetName: { shape: 'WidgetName', location: 'uri', locationName: 'widgetName' },
        pageSize: { shape: 'PageSize', location: 'querystring', locationName: 'pageSize' },
        owner: { shape: 'WidgetName', location: 'header', locationName: 'x-amzn-owner' },
        tags: { shape: 'Tags' },
      },
    },
    DescribeWidgetResponse: {
      type: 'structure',
      required: ['widgetName'],
      members: {
        widgetName: { shape: 'WidgetName' },
        status: { shape: 'Status' },
        size: { shape: 'PageSize' },
        creationDate: { shape: 'Date' },
        enabled: { shape: 'Flag' },
        parts: { shape: 'Parts' },
        attributes: { shape: 'Attributes' },
        data: { shape: 'Data' },
      },
    },
    GetWidgetBlobResponse: {
      type: 'structure',
      required: ['version'],
      members: {
        version: { shape: 'PageSize', location: 'header', locationName: 'x-amzn-widget-version' },
        modified: { shape: 'Date', location: 'header', locationName: 'Last-Modified' },
        status: { shape: 'PageSize', location: 'statusCode' },
        widgetName: { shape: 'WidgetName' },
      },
    },
    Parts: { type: 'list', member: { shape: 'Part' }, max: 2 },
    Part: { type: 'structure', required: ['partId'], members: { partId: { shape: 'WidgetName' } } },
    Attributes: { type: 'map', key: { shape: 'WidgetName' }, value: { shape: 'WidgetName' } },
    Tags: { type: 'list', member: { shape: 'WidgetName' } },
    WidgetName: { type: 'string', min: 1, max: 8, pattern: '[a-z]+' },
    Status: { type: 'string', enum: ['ACTIVE', 'INACTIVE'] },
    PageSize: { type: 'integer', min: 1, max: 250 },
    Date: { type: 'timestamp' },
    Flag: { type: 'boolean' },
    Data: { type: 'blob' },
    ResourceNotFoundException: {
      type: 'structure',
      members: { message: { shape: 'Message' } },
      error: { httpStatusCode: 404 },
      exception: true,
    },
    Message: { type: 'string' },
  },
};

const ok = (body: unknown): WireResponse => ({ status: 200, headers: {}, text: JSON.stringify(body) });
const failed = (status: number, code: string | undefined, body: unknown): WireResponse => ({
  status,
  headers: code ? { 'x-amzn-errortype': code } : {},
  text: JSON.stringify(body),
});

describe('the output check', () => {
  it('passes an answer that has exactly what the shape allows', () => {
    const answer = {
      widgetName: 'gear',
      status: 'ACTIVE',
      size: 25,
      creationDate: 1_764_590_000.123,
      enabled: true,
      parts: [{ partId: 'cog' }],
      attributes: { color: 'red' },
      data: Buffer.from('hello').toString('base64'),
    };
    expect(checkOutput(model, 'DescribeWidget', ok(answer))).toEqual([]);
  });

  it('catches a missing required member, at any depth', () => {
    expect(checkOutput(model, 'DescribeWidget', ok({ parts: [{}] }))).toEqual([
      'DescribeWidget.parts[0].partId: missing required member',
      'DescribeWidget.widgetName: missing required member',
    ]);
  });

  it('catches an unknown member, naming its path', () => {
    expect(checkOutput(model, 'DescribeWidget', ok({ widgetName: 'gear', parts: [{ partId: 'cog', weight: 3 }], colour: 'red' }))).toEqual([
      'DescribeWidget.parts[0].weight: unknown member (the shape has partId)',
      expect.stringMatching(/^DescribeWidget\.colour: unknown member/),
    ]);
  });

  it.each([
    ['a number for a string', { widgetName: 7 }, 'DescribeWidget.widgetName: expected a string, got a number'],
    ['a string for an integer', { widgetName: 'gear', size: '25' }, 'DescribeWidget.size: expected an integer (a whole JSON number), got a string "25"'],
    ['a fraction for an integer', { widgetName: 'gear', size: 2.5 }, 'DescribeWidget.size: expected an integer (a whole JSON number), got a number 2.5'],
    ['an ISO date for a rest-json timestamp', { widgetName: 'gear', creationDate: '2026-12-01T00:00:00Z' }, 'DescribeWidget.creationDate: a timestamp must be epoch seconds (a number), got a string "2026-12-01T00:00:00Z"'],
    ['a string for a boolean', { widgetName: 'gear', enabled: 'true' }, 'DescribeWidget.enabled: expected a boolean, got a string "true"'],
    ['an object for a list', { widgetName: 'gear', parts: {} }, 'DescribeWidget.parts: expected a list (a JSON array), got a object'],
    ['an array for a map', { widgetName: 'gear', attributes: [] }, 'DescribeWidget.attributes: expected a map (a JSON object), got an array'],
    ['text that is not base64 for a blob', { widgetName: 'gear', data: 'not base64!' }, 'DescribeWidget.data: expected a blob (a base64 string), got a string'],
    ['null for a member', { widgetName: 'gear', status: null }, 'DescribeWidget.status: null (a member is absent or has a value)'],
  ])('catches a wrong type: %s', (_, body, problem) => {
    expect(checkOutput(model, 'DescribeWidget', ok(body))).toEqual([problem]);
  });

  it('catches an enum violation', () => {
    expect(checkOutput(model, 'DescribeWidget', ok({ widgetName: 'gear', status: 'PENDING' }))).toEqual([
      'DescribeWidget.status: "PENDING" is not one of the enum ACTIVE, INACTIVE',
    ]);
  });

  it('catches lengths, ranges, counts and patterns, in map keys too', () => {
    expect(
      checkOutput(model, 'DescribeWidget', ok({ widgetName: 'gearwheels', size: 0, parts: [{ partId: 'a' }, { partId: 'b' }, { partId: 'c' }], attributes: { Color: 'red' } })),
    ).toEqual([
      'DescribeWidget.widgetName: length 10 is above the maximum 8',
      'DescribeWidget.size: 0 is below the minimum 1',
      'DescribeWidget.parts: 3 entries, above the maximum 2',
      'DescribeWidget.attributes.Color (key): "Color" does not match the pattern [a-z]+',
    ]);
  });

  it('reads a pattern as matching the whole value', () => {
    expect(checkValue(model, 'WidgetName', 'gear 2', 'X')).toEqual(['X: "gear 2" does not match the pattern [a-z]+']);
  });

  it('takes an empty body or {} for an operation without output, and nothing else', () => {
    expect(checkOutput(model, 'DeleteWidget', { status: 200, headers: {}, text: '' })).toEqual([]);
    expect(checkOutput(model, 'DeleteWidget', ok({}))).toEqual([]);
    expect(checkOutput(model, 'DeleteWidget', ok({ deleted: true }))).toEqual(['DeleteWidget: the operation has no output, the body is {"deleted":true}']);
  });

  it('catches a status other than the model says, and a body that is not JSON', () => {
    expect(checkOutput(model, 'DescribeWidget', { status: 201, headers: {}, text: '{}' })).toEqual([
      'DescribeWidget: status 201, the model answers 200 ({})',
    ]);
    expect(checkOutput(model, 'DescribeWidget', { status: 200, headers: {}, text: '<html>' })).toEqual([
      'DescribeWidget: the body is not JSON: "<html>"',
    ]);
  });
});

describe('members bound to headers and the status code', () => {
  const answer = (headers: Record<string, string>, body: unknown = { widgetName: 'gear' }, status = 201): WireResponse => ({ status, headers, text: JSON.stringify(body) });

  it('reads a header member as its type (an integer, an HTTP date) and the status code as the model says', () => {
    expect(checkOutput(model, 'GetWidgetBlob', answer({ 'x-amzn-widget-version': '3', 'last-modified': 'Tue, 01 Dec 2026 12:00:00 GMT' }))).toEqual([]);
  });

  it('catches a missing required header, a header of the wrong type, and a header member sent in the body', () => {
    expect(checkOutput(model, 'GetWidgetBlob', answer({}))).toEqual(['GetWidgetBlob.<header x-amzn-widget-version>: missing required header']);
    expect(checkOutput(model, 'GetWidgetBlob', answer({ 'x-amzn-widget-version': 'three', 'last-modified': 'yesterday' }))).toEqual([
      'GetWidgetBlob.<header x-amzn-widget-version>: expected an integer, got "three"',
      'GetWidgetBlob.<header Last-Modified>: a timestamp must be an rfc822 date string, got "yesterday"',
    ]);
    expect(checkOutput(model, 'GetWidgetBlob', answer({ 'x-amzn-widget-version': '3' }, { widgetName: 'gear', version: 3 }))).toEqual([
      'GetWidgetBlob.version: unknown member (the shape has widgetName)',
    ]);
  });

  it('catches a status other than the responseCode of the model', () => {
    expect(checkOutput(model, 'GetWidgetBlob', answer({ 'x-amzn-widget-version': '3' }, {}, 200))).toEqual([
      'GetWidgetBlob: status 200, the model answers 201 ({})',
    ]);
  });
});

describe('the error check', () => {
  it('passes a documented error with its status, header and __type', () => {
    expect(checkError(model, 'DescribeWidget', failed(404, 'ResourceNotFoundException', { message: 'gone', __type: 'ResourceNotFoundException' }))).toEqual({
      code: 'ResourceNotFoundException',
      problems: [],
    });
  });

  it('catches an error the operation does not document', () => {
    expect(checkError(model, 'DescribeWidget', failed(400, 'InvalidRequestException', { message: 'no' })).problems).toEqual([
      'DescribeWidget: InvalidRequestException is not one of its documented errors (ResourceNotFoundException)',
    ]);
  });

  it('takes an undocumented error the caller names (with its source), and still checks its status', () => {
    const answer = failed(400, 'InvalidRequestException', { message: 'no' });
    expect(checkError(model, 'DescribeWidget', answer, { undocumented: ['InvalidRequestException'] })).toEqual({
      code: 'InvalidRequestException',
      problems: ['DescribeWidget: InvalidRequestException is not an error shape of the model'],
    });
    const iot = iotServiceModel();
    expect(checkError(iot, 'CreateThingGroup', failed(404, 'ResourceNotFoundException', { message: 'no' }), { undocumented: ['ResourceNotFoundException'] })).toEqual({
      code: 'ResourceNotFoundException',
      problems: [],
    });
    expect(checkError(iot, 'CreateThingGroup', failed(400, 'ResourceNotFoundException', { message: 'no' }), { undocumented: ['ResourceNotFoundException'] }).problems).toEqual([
      'CreateThingGroup: ResourceNotFoundException answered with status 400, the model says 404',
    ]);
  });

  it('catches a status that is not the error shape httpStatusCode', () => {
    expect(checkError(model, 'DescribeWidget', failed(400, 'ResourceNotFoundException', { message: 'gone' })).problems).toEqual([
      'DescribeWidget: ResourceNotFoundException answered with status 400, the model says 404',
    ]);
  });

  it('catches a missing x-amzn-ErrorType, a __type that disagrees and an unknown member', () => {
    expect(checkError(model, 'DescribeWidget', failed(404, undefined, { message: 'gone', __type: 'ResourceNotFoundException' })).problems).toEqual([
      'DescribeWidget.<header x-amzn-ErrorType>: missing',
    ]);
    expect(
      checkError(model, 'DescribeWidget', failed(404, 'ResourceNotFoundException', { message: 'gone', __type: 'NotFound', detail: 1 })).problems,
    ).toEqual([
      'DescribeWidget.__type: "NotFound" disagrees with x-amzn-ErrorType "ResourceNotFoundException"',
      'DescribeWidget.ResourceNotFoundException.detail: unknown member (the shape has message)',
    ]);
  });

  it('catches a success where an error was expected', () => {
    expect(checkError(model, 'DescribeWidget', ok({ widgetName: 'gear' })).problems).toEqual([
      'DescribeWidget: answered 200 where an error was expected: {"widgetName":"gear"}',
    ]);
  });

  it('reads the code as the SDKs do (suffix after ":" and prefix up to "#" dropped)', () => {
    const answer = failed(404, 'aws.iot#ResourceNotFoundException:http://internal.amazon.com/', { message: 'gone' });
    expect(checkError(model, 'DescribeWidget', answer)).toEqual({ code: 'ResourceNotFoundException', problems: [] });
  });
});

describe('member paths (what a set of answers exercised)', () => {
  it('lists the members an answer holds, through lists and maps', () => {
    const answer = { widgetName: 'gear', parts: [{ partId: 'cog' }], attributes: { color: 'red' } };
    expect([...memberPaths(model, 'DescribeWidgetResponse', answer)]).toEqual(['widgetName', 'parts', 'parts[].partId', 'attributes']);
  });

  it('lists every body member a shape has', () => {
    expect([...allMemberPaths(model, 'DescribeWidgetResponse')]).toEqual(['widgetName', 'status', 'size', 'creationDate', 'enabled', 'parts', 'parts[].partId', 'attributes', 'data']);
    expect([...allMemberPaths(model, 'GetWidgetBlobResponse')]).toEqual(['widgetName']);
  });
});

describe('the request builder', () => {
  it('binds path, query string, headers and body as the input shape places them', () => {
    expect(buildRequest(model, 'DescribeWidget', { widgetName: 'a b', pageSize: 5, owner: 'me', tags: ['x'] })).toEqual({
      method: 'GET',
      url: '/widgets/a%20b?pageSize=5',
      headers: { 'x-amzn-owner': 'me', 'content-type': 'application/json' },
      body: '{"tags":["x"]}',
    });
  });

  it('refuses an input member the shape does not have, and a URI member without a value', () => {
    expect(() => buildRequest(model, 'DescribeWidget', { widgetName: 'a', colour: 'red' })).toThrow('DescribeWidget: the input shape has no member colour');
    expect(() => buildRequest(model, 'DescribeWidget', {})).toThrow('DescribeWidget: the URI member widgetName has no value');
  });

  it('checks an input as a whole, members bound anywhere included', () => {
    expect(checkInput(model, 'DescribeWidget', { pageSize: 500 })).toEqual([
      'DescribeWidget<input>.pageSize: 500 is above the maximum 250',
      'DescribeWidget<input>.widgetName: missing required member',
    ]);
  });
});

describe('against the iot service model', () => {
  const iot = iotServiceModel();

  it('is the rest-json iot model of 2015-05-28', () => {
    expect(iot.metadata).toMatchObject({ protocol: 'rest-json', apiVersion: '2015-05-28', serviceId: 'IoT' });
    expect(iot.operations.ListThings?.http).toEqual({ method: 'GET', requestUri: '/things' });
  });

  it('names the operation and the path of a difference, e.g. ListThings.things[0].attributes', () => {
    const answer = ok({ things: [{ thingName: 'dev-1', attributes: ['color'], version: 1 }] });
    expect(checkOutput(iot, 'ListThings', answer)).toEqual(['ListThings.things[0].attributes: expected a map (a JSON object), got an array']);
  });

  it('compiles every pattern of the model (Java POSIX classes such as \\p{Graph} included)', () => {
    const patterned = Object.entries(iot.shapes).filter(([, shape]) => shape.type === 'string' && shape.pattern !== undefined);
    expect(patterned.length).toBeGreaterThan(100);
    for (const [name] of patterned) expect(() => checkValue(iot, name, 'x', name)).not.toThrow();
    expect(checkValue(iot, 'ThingGroupDescription', 'a group ~', 'd')).toEqual([]);
    expect(checkValue(iot, 'ThingGroupDescription', 'tab\there', 'd')).toEqual([expect.stringContaining('does not match the pattern')]);
  });
});
