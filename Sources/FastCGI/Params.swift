import CFastCGI
import Glibc
import HTTPMessages

/// Copies a request out of libfcgi at once (its parameter strings are freed at the next
/// accept). Only what a handler uses becomes a Swift string: the method, the URI, the query,
/// the listener, nginx's request and trace ids and the HTTP headers; other parameters are skipped by comparing bytes.
/// The request is internal only if nginx's internal listener marked it and passed `internalSecret`.
func readRequest(_ raw: UnsafeMutablePointer<FCGX_Request>, maxBody: Int, internalSecret: [UInt8]) -> Request {
    var request = Request(method: "", path: "")
    var contentLength = 0
    var markedInternal = false
    var carriesSecret = false
    var cursor = raw.pointee.envp
    while let entry = cursor?.pointee {
        cursor = cursor?.advanced(by: 1)
        let bytes = UnsafeRawBufferPointer(start: entry, count: strlen(entry))
        guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else { continue }
        let name = UnsafeRawBufferPointer(rebasing: bytes[..<equals])
        let value = UnsafeRawBufferPointer(rebasing: bytes[(equals + 1)...])
        if name.starts(with: "HTTP_".utf8) {
            request.cgiHeaders.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        } else if name.elementsEqual("REQUEST_METHOD".utf8) {
            request.method = String(decoding: value, as: UTF8.self)
        } else if name.elementsEqual("REQUEST_URI".utf8) {
            let path = value.firstIndex(of: UInt8(ascii: "?")).map { UnsafeRawBufferPointer(rebasing: value[..<$0]) } ?? value
            request.path = String(decoding: path, as: UTF8.self)
        } else if name.elementsEqual("QUERY_STRING".utf8) {
            request.query = String(decoding: value, as: UTF8.self)
        } else if name.elementsEqual("CONTENT_LENGTH".utf8) {
            contentLength = Int(String(decoding: value, as: UTF8.self)) ?? 0
        } else if name.elementsEqual("BAZAR_LISTENER".utf8) {
            markedInternal = value.elementsEqual("internal".utf8)
        } else if name.elementsEqual("BAZAR_SECRET".utf8) {
            carriesSecret = constantTimeEqual(value, internalSecret)
        } else if name.elementsEqual("BAZAR_REQUEST_ID".utf8) {
            request.requestID = String(decoding: value, as: UTF8.self)
        } else if name.elementsEqual("BAZAR_MISS_QUEUE".utf8) {
            request.throughMissQueue = value.elementsEqual("1".utf8)
        } else if name.elementsEqual("BAZAR_TRACE_ID".utf8) {
            request.traceID = String(decoding: value, as: UTF8.self)
        }
    }
    request.isInternal = markedInternal && carriesSecret
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

/// Whether `offered` equals a non-empty `secret`, in time that does not depend on where they differ.
private func constantTimeEqual(_ offered: UnsafeRawBufferPointer, _ secret: [UInt8]) -> Bool {
    guard !secret.isEmpty else { return false }
    var difference = UInt8(offered.count == secret.count ? 0 : 1)
    for index in 0..<secret.count {
        difference |= secret[index] ^ (index < offered.count ? offered[index] : 0)
    }
    return difference == 0
}
