# Copyright: fleet.linux contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Asks an NTP server for the time once, as an SNTP client would (mode 3 request).

Usage: python3 sntp_query.py ADDRESS [TIMEOUT_SECONDS]
Prints "stratum=S leap=L refid=R offset=SECONDS" and exits 0, or prints "timeout" and exits 1.
"""
import socket
import struct
import sys
import time

NTP_EPOCH_OFFSET = 2208988800


def to_unix(timestamp):
    return (timestamp >> 32) - NTP_EPOCH_OFFSET + (timestamp & 0xffffffff) / float(1 << 32)


def main():
    address = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    sent = time.time()
    seconds = int(sent)
    transmit = ((seconds + NTP_EPOCH_OFFSET) << 32) | int((sent - seconds) * (1 << 32))
    sock.sendto(struct.pack('!B47xQ', (4 << 3) | 3, transmit)[:40] + struct.pack('!Q', transmit),
                (address, 123))
    try:
        reply = sock.recv(1024)
    except socket.timeout:
        print('timeout')
        return 1
    received = time.time()
    first, stratum = reply[0], reply[1]
    refid = reply[12:16]
    server_receive, server_transmit = struct.unpack('!QQ', reply[32:48])
    offset = ((to_unix(server_receive) - sent) + (to_unix(server_transmit) - received)) / 2
    refid_text = refid.decode('ascii', 'replace').strip('\0') if stratum <= 1 else socket.inet_ntoa(refid)
    print('stratum=%d leap=%d refid=%s offset=%.6f' % (stratum, first >> 6, refid_text, offset))
    return 0


if __name__ == '__main__':
    sys.exit(main())
