#version 330
// Hardware instancing: one mesh drawn N times (setInstanceCount). Each instance reads its pose
// and colour from a buffer texture the CPU refills from numpy once a frame:
//   texel 2i   = (x_m, y_m, z_m, heading_rad)   in the instanced node's space
//   texel 2i+1 = (r, g, b, a)                   linear colour (quality cues scale it)
// Meshes carry positions only (8 shared corners for a box): on a software rasteriser vertex
// shading is the bottleneck, so normals are rebuilt per fragment from screen derivatives.

uniform mat4 p3d_ModelViewProjectionMatrix;
uniform samplerBuffer instance_data;

in vec4 p3d_Vertex;

out vec3 v_pos;
flat out vec4 v_color;

void main() {
    vec4 pose = texelFetch(instance_data, gl_InstanceID * 2);
    v_color = texelFetch(instance_data, gl_InstanceID * 2 + 1);
    float c = cos(pose.w);
    float s = sin(pose.w);
    vec3 p = vec3(mat2(c, s, -s, c) * p3d_Vertex.xy, p3d_Vertex.z) + pose.xyz;
    v_pos = p;
    gl_Position = p3d_ModelViewProjectionMatrix * vec4(p, 1.0);
}
