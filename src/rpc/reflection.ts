/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha), answered from the generated file
 * descriptors, so grpcurl and `buf curl` work without the .proto files.
 */
import { create, type DescFile, type DescMessage, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  type ServerReflection,
  type ServerReflectionRequest,
  ServerReflectionRequestSchema,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "../gen/grpc/reflection/v1/reflection_pb.js";
import {
  ServerReflectionRequestSchema as AlphaRequestSchema,
  ServerReflectionResponseSchema as AlphaResponseSchema,
  type ServerReflection as AlphaServerReflection,
} from "../gen/grpc/reflection/v1alpha/reflection_pb.js";

const NOT_FOUND = 5;
const UNIMPLEMENTED = 12;

export class DescriptorIndex {
  private readonly files = new Map<string, DescFile>();
  private readonly symbols = new Map<string, DescFile>();
  private readonly encoded = new Map<string, Uint8Array>();
  readonly services: string[];

  constructor(roots: readonly DescFile[], services: readonly string[]) {
    this.services = [...services];
    const visit = (f: DescFile) => {
      if (this.files.has(f.name)) return;
      this.files.set(f.name, f);
      for (const d of f.dependencies) visit(d);
      const msg = (d: DescMessage) => {
        this.symbols.set(d.typeName, f);
        for (const field of d.fields) this.symbols.set(`${d.typeName}.${field.name}`, f);
        for (const n of d.nestedMessages) msg(n);
        for (const e of d.nestedEnums) this.symbols.set(e.typeName, f);
      };
      for (const d of f.messages) msg(d);
      for (const e of f.enums) this.symbols.set(e.typeName, f);
      for (const s of f.services) {
        this.symbols.set(s.typeName, f);
        for (const mth of s.methods) this.symbols.set(`${s.typeName}.${mth.name}`, f);
      }
    };
    for (const r of roots) visit(r);
  }

  /** The file and its transitive dependencies, serialized FileDescriptorProtos. */
  closure(f: DescFile): Uint8Array[] {
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    const walk = (x: DescFile) => {
      if (seen.has(x.name)) return;
      seen.add(x.name);
      let b = this.encoded.get(x.name);
      if (!b) {
        b = toBinary(FileDescriptorProtoSchema, x.proto);
        this.encoded.set(x.name, b);
      }
      out.push(b);
      for (const d of x.dependencies) walk(d);
    };
    walk(f);
    return out;
  }

  fileByName(name: string): DescFile | undefined {
    return this.files.get(name);
  }

  fileBySymbol(sym: string): DescFile | undefined {
    return this.symbols.get(sym.startsWith(".") ? sym.slice(1) : sym);
  }

  answer(req: ServerReflectionRequest): ServerReflectionResponse {
    const res = create(ServerReflectionResponseSchema, { validHost: req.host, originalRequest: req });
    const notFound = (what: string) => {
      res.messageResponse = {
        case: "errorResponse",
        value: { $typeName: "grpc.reflection.v1.ErrorResponse", errorCode: NOT_FOUND, errorMessage: what },
      };
    };
    const r = req.messageRequest;
    switch (r.case) {
      case "listServices":
        res.messageResponse = {
          case: "listServicesResponse",
          value: {
            $typeName: "grpc.reflection.v1.ListServiceResponse",
            service: this.services.map((name) => ({ $typeName: "grpc.reflection.v1.ServiceResponse", name })),
          },
        };
        break;
      case "fileByFilename":
      case "fileContainingSymbol": {
        const f = r.case === "fileByFilename" ? this.fileByName(r.value) : this.fileBySymbol(r.value);
        if (!f) {
          notFound(
            r.case === "fileByFilename" ? `file not found: ${r.value}` : `symbol not found: ${r.value}`,
          );
          break;
        }
        res.messageResponse = {
          case: "fileDescriptorResponse",
          value: {
            $typeName: "grpc.reflection.v1.FileDescriptorResponse",
            fileDescriptorProto: this.closure(f),
          },
        };
        break;
      }
      case "fileContainingExtension":
        notFound(`extension not found: ${r.value.containingType}(${r.value.extensionNumber})`);
        break;
      case "allExtensionNumbersOfType":
        if (!this.fileBySymbol(r.value)) {
          notFound(`type not found: ${r.value}`);
          break;
        }
        res.messageResponse = {
          case: "allExtensionNumbersResponse",
          value: {
            $typeName: "grpc.reflection.v1.ExtensionNumberResponse",
            baseTypeName: r.value,
            extensionNumber: [],
          },
        };
        break;
      default:
        res.messageResponse = {
          case: "errorResponse",
          value: {
            $typeName: "grpc.reflection.v1.ErrorResponse",
            errorCode: UNIMPLEMENTED,
            errorMessage: "unsupported reflection request",
          },
        };
    }
    return res;
  }
}

export function createReflectionService(index: DescriptorIndex): ServiceImpl<typeof ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) yield index.answer(req);
    },
  };
}

/** v1alpha has the same messages under another package: translate through the wire format. */
export function createReflectionServiceV1Alpha(
  index: DescriptorIndex,
): ServiceImpl<typeof AlphaServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        const v1 = fromBinary(ServerReflectionRequestSchema, toBinary(AlphaRequestSchema, req));
        const ans = index.answer(v1);
        yield fromBinary(AlphaResponseSchema, toBinary(ServerReflectionResponseSchema, ans));
      }
    },
  };
}
