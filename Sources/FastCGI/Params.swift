import CFastCGI
import Glibc

/// Copies a request out of libfcgi at once (its parameter strings are freed at the next accept).
func readRequest(_ raw: UnsafeMutablePointer<FCGX_Request>, maxBody: Int) -> Request {
    var method = "", uri = "", query = "", contentLength = 0, isInternal = false
    var headers: [String: String] = [:]
    var cursor = raw.pointee.envp
    while let entry = cursor?.pointee {
        let length = strlen(entry)
        let bytes = UnsafeRawBufferPointer(start: entry, count: length)
        if let equals = bytes.firstIndex(of: UInt8(ascii: "=")) {
            let name = UnsafeRawBufferPointer(rebasing: bytes[..<equals])
            let value = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(equals + 1)...]), as: UTF8.self)
            if name.starts(with: "HTTP_".utf8) {
                headers[String(decoding: name, as: UTF8.self)] = value
            } else {
                switch String(decoding: name, as: UTF8.self) {
                case "REQUEST_METHOD": method = value
                case "REQUEST_URI": uri = value
                case "QUERY_STRING": query = value
                case "CONTENT_LENGTH": contentLength = Int(value) ?? 0
                case "BAZAR_LISTENER": isInternal = value == "internal"
                default: break
                }
            }
        }
        cursor = cursor?.advanced(by: 1)
    }
    let path = uri.firstIndex(of: "?").map { String(uri[..<$0]) } ?? uri
    var request = Request(method: method, path: path, query: query, isInternal: isInternal)
    request.cgiHeaders = headers
    if contentLength > maxBody {
        request.bodyTooLarge = true
    } else if contentLength > 0 {
        request.body = readBody(raw.pointee.in, count: contentLength)
    }
    return request
}

/// Reads exactly `count` bytes unless the stream ends first (libfcgi may return fewer per call).
private func readBody(_ stream: UnsafeMutablePointer<FCGX_Stream>?, count: Int) -> [UInt8] {
    var body = [UInt8](repeating: 0, count: count)
    var filled = 0
    body.withUnsafeMutableBytes { buffer in
        while filled < count {
            let got = FCGX_GetStr(buffer.baseAddress!.advanced(by: filled).assumingMemoryBound(to: CChar.self),
                                  Int32(count - filled), stream)
            if got <= 0 { break }
            filled += Int(got)
        }
    }
    return Array(body[..<filled])
}
