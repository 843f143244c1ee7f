import SystemCalls

/// Reads one HTTP/1.1 response (Content-Length, chunked, or until close) from a socket, all of
/// it by the call's deadline.
struct ResponseReader {
    let fd: Int32
    let deadline: Deadline
    private var buffer: [UInt8] = []
    private var start = 0
    /// Whether any byte of an answer arrived.
    private var receivedAny = false

    init(fd: Int32, deadline: Deadline) {
        self.fd = fd
        self.deadline = deadline
        buffer.reserveCapacity(4096)
    }

    /// The response, and whether the connection may carry another request.
    mutating func read() -> Result<(InternalResponse, Bool), InternalCallError> {
        do {
            let headEnd = try fill(until: { $0.headEnd })
            guard let (status, headers) = Self.parseHead(buffer[start..<headEnd]) else { return .failure(.malformed) }
            start = headEnd + 4
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
            return .success((InternalResponse(status: status, lowercasedHeaders: headers, body: body), reusable))
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
            guard try receive() else { throw receivedAny ? .malformed : .noAnswer }
        }
    }

    /// Reads more bytes; false at end of stream.
    private mutating func receive() throws(InternalCallError) -> Bool {
        let got: Int
        do {
            got = try withUnsafeTemporaryAllocation(byteCount: 16 * 1024, alignment: 1) { chunk throws(SystemError) in
                let got = try Posix.receive(fd, into: chunk, by: deadline)
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[..<got]))
                return got
            }
        } catch {
            throw error.timedOut ? .timeout : (receivedAny ? .malformed : .noAnswer)
        }
        if got > 0 { receivedAny = true }
        return got > 0
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
            let sizeLine = buffer[start..<lineEnd].split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false).first ?? []
            let sizeText = String(decoding: Self.trimmed(sizeLine), as: UTF8.self)
            guard let size = Int(sizeText, radix: 16), size >= 0 else { throw .malformed }
            start = lineEnd + 1
            _ = try fill(until: { $0.available >= size + 2 ? 0 : nil })
            body += buffer[start..<(start + size)]
            start += size + 2
            if size == 0 { return body }
        }
    }
}

extension ResponseReader {
    /// The status and headers (names lower-cased, values trimmed) of a response head, parsed as
    /// bytes; nil when it is not an HTTP/1.x head.
    static func parseHead(_ head: ArraySlice<UInt8>) -> (Int, [String: String])? {
        var lines = head.split(separator: 13, omittingEmptySubsequences: false).makeIterator()
        guard let statusLine = lines.next(), statusLine.starts(with: "HTTP/1.".utf8) else { return nil }
        let fields = statusLine.split(separator: UInt8(ascii: " "), maxSplits: 2)
        guard fields.count >= 2, fields[1].count == 3, fields[1].allSatisfy({ (48...57).contains($0) }) else { return nil }
        let status = fields[1].reduce(0) { $0 * 10 + Int($1 - 48) }
        var headers: [String: String] = [:]
        while let rawLine = lines.next() {
            let line = rawLine.first == 10 ? rawLine.dropFirst() : rawLine[...]
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return nil }
            let name = line[..<colon].map { (65...90).contains($0) ? $0 + 32 : $0 }
            headers[String(decoding: name, as: UTF8.self)] = String(decoding: trimmed(line[(colon + 1)...]), as: UTF8.self)
        }
        return (status, headers)
    }

    static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let isSpace = { (byte: UInt8) in byte == 32 || byte == 9 || byte == 13 || byte == 10 }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else {
            return []
        }
        return bytes[first...last]
    }
}
