import Glibc

/// Reads one HTTP/1.1 response (Content-Length, chunked, or until close) from a socket.
struct ResponseReader {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    /// Whether any byte of an answer arrived (a kept connection that closed before is safe to retry).
    private(set) var receivedAny = false

    init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(4096)
    }

    /// The response, and whether the connection may carry another request.
    mutating func read() -> Result<(InternalResponse, Bool), InternalCallError> {
        do {
            let headEnd = try fill(until: { $0.headEnd })
            guard let head = String(validating: buffer[start..<headEnd], as: UTF8.self) else { return .failure(.malformed) }
            start = headEnd + 4
            let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
            let statusParts = lines[0].split(separator: " ", maxSplits: 2)
            guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
                return .failure(.malformed)
            }
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { return .failure(.malformed) }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingSpaces
            }
            var reusable = headers["connection"]?.lowercased() != "close"
            let body: [UInt8]
            if headers["transfer-encoding"]?.lowercased() == "chunked" {
                body = try readChunked()
            } else if let lengthText = headers["content-length"] {
                guard let length = Int(lengthText), length >= 0 else { return .failure(.malformed) }
                _ = try fill(until: { $0.available >= length ? 0 : nil })
                body = Array(buffer[start..<(start + length)])
            } else {
                body = try readToEnd()
                reusable = false
            }
            return .success((InternalResponse(status: status, headers: headers, body: body), reusable))
        } catch {
            return .failure(error)
        }
    }

    private var available: Int { buffer.count - start }

    private var headEnd: Int? {
        guard buffer.count - start >= 4 else { return nil }
        for index in start...(buffer.count - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        return nil
    }

    private mutating func fill(until done: (Self) -> Int?) throws(InternalCallError) -> Int {
        while true {
            if let found = done(self) { return found }
            guard try receive() else { throw receivedAny ? .malformed : .unreachable }
        }
    }

    /// Reads more bytes; false at end of stream.
    private mutating func receive() throws(InternalCallError) -> Bool {
        while true {
            let got = withUnsafeTemporaryAllocation(byteCount: 16 * 1024, alignment: 1) { chunk in
                let got = recv(fd, chunk.baseAddress, chunk.count, 0)
                if got > 0 { buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[..<got])) }
                return got
            }
            if got > 0 {
                receivedAny = true
                return true
            }
            if got == 0 { return false }
            if errno == EINTR { continue }
            throw (errno == EAGAIN || errno == EWOULDBLOCK) ? .timeout : (receivedAny ? .malformed : .unreachable)
        }
    }

    private mutating func readToEnd() throws(InternalCallError) -> [UInt8] {
        while try receive() {}
        return Array(buffer[start...])
    }

    private mutating func readChunked() throws(InternalCallError) -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let lineEnd = try fill(until: { reader in
                reader.buffer[reader.start...].firstIndex(of: 10)
            })
            let sizeText = String(decoding: buffer[start..<lineEnd], as: UTF8.self)
                .split(separator: ";").first?.trimmingSpaces ?? ""
            guard let size = Int(sizeText, radix: 16), size >= 0 else { throw .malformed }
            start = lineEnd + 1
            _ = try fill(until: { $0.available >= size + 2 ? 0 : nil })
            body += buffer[start..<(start + size)]
            start += size + 2
            if size == 0 { return body }
        }
    }
}

extension Substring {
    /// The text without leading and trailing spaces, tabs and carriage returns.
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed()
            .drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed())
    }
}
