using System.Text.Json.Nodes;
using AgenticGateway.Mcp.OpenApi;

namespace AgenticGateway.Tests.Mcp;

/// <summary>Specs written for the cases the petstore examples do not have: names, collisions, recursion, 3.0 schemas, YAML typing.</summary>
[Trait("Category", "unit")]
public sealed class OpenApiToolBuilderTests
{
    private static (List<OpenApiOperation> Operations, List<string> Skipped) Build(string yaml)
    {
        var skipped = new List<string>();
        var operations = OpenApiToolBuilder.Build(SpecDocument.From(SpecYaml.Parse(yaml)), skipped);
        return ([.. operations], skipped);
    }

    private static JsonNode Schema(OpenApiOperation operation) => JsonNode.Parse(operation.Tool.InputSchema.GetRawText())!;

    private const string Head = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n";

    [Fact]
    public void Names_follow_LiteLLM_derived_sanitized_lowercased_unique_and_at_most_64_characters()
    {
        var (operations, _) = Build(Head + $$$"""
            paths:
              /pets/{petId}:
                get: {responses: {}}
                put: {operationId: a/list, responses: {}}
                post: {operationId: a.list, responses: {}}
                delete: {operationId: {{{new string('x', 70)}}}, responses: {}}
                patch: {operationId: {{{new string('x', 70)}}}, responses: {}}
            """);
        Assert.Equal(["get__pets__petid_", "a_list", "a_list_2", new string('x', 64), new string('x', 62) + "_2"], operations.Select(o => o.Tool.Name));
        Assert.Equal("GET /pets/{petId}", operations[0].Tool.Description);
    }

    [Fact]
    public void Path_level_parameters_merge_and_a_name_taken_twice_gets_its_location_as_prefix()
    {
        var (operations, _) = Build(Head + """
            paths:
              /items/{id}:
                parameters:
                  - {name: id, in: path, required: true, schema: {type: string}, description: path level}
                  - {name: trace, in: header, schema: {type: string}}
                post:
                  parameters:
                    - {name: id, in: path, required: true, schema: {type: integer}}
                    - {name: id, in: query, schema: {type: string}}
                    - {name: body, in: query, schema: {type: boolean}}
                    - {name: Accept, in: header, schema: {type: string}}
                  requestBody:
                    content: {application/json: {schema: {type: object}}}
                  responses: {}
            """);
        var schema = Schema(Assert.Single(operations));
        Assert.Equal(["id", "trace", "query_id", "query_body", "body"], schema["properties"]!.AsObject().Select(p => p.Key));
        Assert.Equal("integer", schema["properties"]!["id"]!["type"]!.GetValue<string>());
        Assert.Equal(["id"], schema["required"]!.AsArray().Select(n => n!.GetValue<string>()));
    }

    [Fact]
    public void A_recursive_schema_goes_to_defs_and_the_rest_is_inlined()
    {
        var (operations, _) = Build(Head + """
            paths:
              /trees:
                post:
                  requestBody:
                    required: true
                    content: {application/json: {schema: {$ref: '#/components/schemas/Tree'}}}
                  responses: {}
            components:
              schemas:
                Label: {type: string, nullable: true, enum: [a, b]}
                Tree:
                  type: object
                  properties:
                    label: {$ref: '#/components/schemas/Label'}
                    size: {type: integer, minimum: 0, exclusiveMinimum: true}
                    children: {type: array, items: {$ref: '#/components/schemas/Tree'}}
            """);
        var schema = Schema(Assert.Single(operations));
        var body = schema["properties"]!["body"]!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"type":["string","null"],"enum":["a","b",null]}"""), body["properties"]!["label"]), body.ToJsonString());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"type":"integer","exclusiveMinimum":0}"""), body["properties"]!["size"]), body.ToJsonString());
        Assert.Equal("#/$defs/Tree", body["properties"]!["children"]!["items"]!["$ref"]!.GetValue<string>());
        Assert.Equal("#/$defs/Tree", schema["$defs"]!["Tree"]!["properties"]!["children"]!["items"]!["$ref"]!.GetValue<string>());
    }

    [Fact]
    public void A_3_1_schema_is_kept_as_json_schema_with_a_refs_own_description_and_an_undeclared_path_variable_is_a_required_string()
    {
        var (operations, _) = Build("""
            openapi: 3.1.0
            info: {title: t, version: '1'}
            paths:
              /notes/{noteId}:
                patch:
                  operationId: updateNote
                  requestBody:
                    required: true
                    content:
                      application/merge-patch+json:
                        schema: {$ref: '#/components/schemas/Note', description: The fields to change}
                  responses: {}
            components:
              schemas:
                Note: {type: object, properties: {text: {type: [string, 'null'], nullable: true}}}
            """);
        var operation = Assert.Single(operations);
        Assert.Equal("application/merge-patch+json", operation.Body!.MediaType);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""
            {"type":"object","properties":{
              "noteId":{"type":"string"},
              "body":{"type":"object","properties":{"text":{"type":["string","null"],"nullable":true}},"description":"The fields to change"}},
             "required":["noteId","body"]}
            """), Schema(operation)), Schema(operation).ToJsonString());
    }

    [Fact]
    public void A_schema_that_would_multiply_when_inlined_is_referenced_through_defs()
    {
        // Each level uses the next ten times: 10^5 nodes inlined, five definitions referenced.
        var levels = string.Join("\n", Enumerable.Range(1, 5).Select(i => i == 5
            ? "    L5: {type: string}"
            : $"    L{i}: {{type: object, properties: {{{string.Join(", ", Enumerable.Range(0, 10).Select(p => $"p{p}: {{$ref: '#/components/schemas/L{i + 1}'}}"))}}}}}"));
        var (operations, _) = Build(Head + """
            paths:
              /x:
                post:
                  requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/L1'}}}}
                  responses: {}
            components:
              schemas:
            """ + "\n" + levels);
        var schema = Schema(Assert.Single(operations));
        Assert.Equal("#/$defs/L1", schema["properties"]!["body"]!["$ref"]!.GetValue<string>());
        Assert.Equal(["L1", "L2", "L3", "L4", "L5"], schema["$defs"]!.AsObject().Select(p => p.Key).Order());
    }

    [Fact]
    public void An_operation_whose_required_body_no_tool_can_send_is_left_out_with_why()
    {
        var (operations, skipped) = Build(Head + """
            paths:
              /upload:
                post:
                  requestBody: {required: true, content: {multipart/form-data: {schema: {type: object}}}}
                  responses: {}
                put:
                  requestBody: {content: {application/octet-stream: {}}}
                  responses: {}
            """);
        Assert.Equal("put__upload", Assert.Single(operations).Tool.Name);
        Assert.Null(operations[0].Body);
        Assert.Equal("POST /upload: its required request body has no media type a tool can send (multipart/form-data)", Assert.Single(skipped));
    }

    [Fact]
    public void Yaml_is_read_as_yaml_1_2_so_yes_and_on_stay_text()
    {
        var node = SpecYaml.Parse("a: [yes, on, 'true', true, 012, 1.5e3, 1.0.0, ~, 0x1F]")!;
        Assert.Equal("""{"a":["yes","on","true",true,12,1500,"1.0.0",null,31]}""", node.ToJsonString());
    }

    [Fact]
    public void External_and_broken_refs_are_errors_that_name_them()
    {
        var external = Assert.Throws<FormatException>(() => Build(Head + """
            paths:
              /x: {get: {parameters: [{$ref: 'common.yaml#/parameters/limit'}], responses: {}}}
            """));
        Assert.Contains("$ref 'common.yaml#/parameters/limit' points outside the document", external.Message);

        var anchors = Assert.Throws<FormatException>(() => SpecYaml.Parse(string.Join("\n",
            ["a: &a [x, x, x, x, x, x, x, x, x, x]", .. Enumerable.Range(0, 9).Select(i => $"{(char)('b' + i)}: &{(char)('b' + i)} [*{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}, *{(char)('a' + i)}]")])));
        Assert.Contains("more than 2000000 nodes", anchors.Message);
    }
}
