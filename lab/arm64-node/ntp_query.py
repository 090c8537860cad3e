# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One NTP client request (mode 3, version 4), as a LAN client sends it; never sets any clock.

Usage: python3 ntp_query.py ADDRESS PORT [TIMEOUT_SECONDS]
Prints one JSON object: leap (0-3; 3 = unsynchronised), version, mode, stratum, refid, offset and delay
(seconds, of the server's clock against this machine's), and exits 0; exits 1 on a timeout.
"""
import json
import socket
import struct
import sys
import time

NTP_EPOCH_OFFSET = 2208988800


def to_unix(timestamp):
    return (timestamp >> 32) - NTP_EPOCH_OFFSET + (timestamp & 0xffffffff) / float(1 << 32)


def to_ntp(unix_time):
    seconds = int(unix_time)
    return ((seconds + NTP_EPOCH_OFFSET) << 32) | int((unix_time - seconds) * (1 << 32))


def main():
    address, port = sys.argv[1], int(sys.argv[2])
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    sent = time.time()
    transmit = to_ntp(sent)
    sock.sendto(struct.pack('!B39xQ', (4 << 3) | 3, transmit), (address, port))
    try:
        reply = sock.recv(1024)
    except socket.timeout:
        print(json.dumps({'error': 'timeout'}))
        return 1
    received = time.time()
    first, stratum = reply[0], reply[1]
    origin, server_receive, server_transmit = struct.unpack('!QQQ', reply[24:48])
    refid = reply[12:16]
    offset = ((to_unix(server_receive) - sent) + (to_unix(server_transmit) - received)) / 2
    delay = (received - sent) - (to_unix(server_transmit) - to_unix(server_receive))
    print(json.dumps({
        'leap': first >> 6, 'version': (first >> 3) & 7, 'mode': first & 7, 'stratum': stratum,
        'refid': refid.decode('ascii', 'replace').strip('\0') if stratum <= 1 else socket.inet_ntoa(refid),
        'origin_matches': origin == transmit, 'offset': round(offset, 6), 'delay': round(delay, 6)}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
